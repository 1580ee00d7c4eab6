/**
 * The server profile from recorded server answers: FerretDB v1.24.2 on SQLite and on PostgreSQL
 * (buildInfo, hello and an explain, recorded over the wire on 2026-11-29 into
 * ferretdb-answers.json), and MongoDB's documented hello shapes (standalone, replica set, mongos).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { describeServer, profileFromAnswers } from '../../../src/server/server-profile.js';

const recorded = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'ferretdb-answers.json'), 'utf8')) as Record<
  'sqlite' | 'postgresql',
  { buildInfo: Document; hello: Document; explain: Document }
>;

/** MongoDB 8.0's buildInfo carries no `ferretdbVersion`; hello fields as the manual documents them. */
const MONGODB_BUILD_INFO = { version: '8.0.4', gitVersion: 'bc35ab4305d9920d9d1e5a2c6d3a6e9a0b7e7c4f', versionArray: [8, 0, 4, 0], bits: 64, maxBsonObjectSize: 16777216, ok: 1 };
const MONGODB_STANDALONE_HELLO = { isWritablePrimary: true, maxBsonObjectSize: 16777216, maxMessageSizeBytes: 48000000, maxWriteBatchSize: 100000, ok: 1 };
const MONGODB_REPLICA_HELLO = { ...MONGODB_STANDALONE_HELLO, setName: 'rs0', hosts: ['db1:27017', 'db2:27017'], primary: 'db1:27017' };
const MONGOS_HELLO = { ...MONGODB_STANDALONE_HELLO, msg: 'isdbgrid' };

describe('profileFromAnswers', () => {
  it('FerretDB on SQLite: no validators/TTL/partial/sparse, small update commands one at a time, one $in scan for lookups', () => {
    const profile = profileFromAnswers(recorded.sqlite);
    expect(profile).toMatchObject({ kind: 'ferretdb', backend: 'sqlite', topology: 'standalone', version: '7.0.42', ferretdbVersion: 'unknown' });
    expect(profile.capabilities).toEqual({ validators: false, ttlIndexes: false, partialIndexes: false, sparseIndexes: false, transactions: false, duplicateKeyDetails: false });
    expect(profile.writes).toEqual({ updateStatementsPerCommand: 10, updateCommandsInFlight: 1, unorderedUpdateStopsAtFirstError: true });
    expect(profile.reads).toMatchObject({ lookup: 'run-in', pauseWritesDuringLookup: true, exactCollStatsCount: true });
    expect(describeServer(profile)).toBe('FerretDB on SQLite (MongoDB 7.0.42 compatible, standalone)');
  });

  it('FerretDB on PostgreSQL: equality lookups per run; collStats counts are estimates', () => {
    const profile = profileFromAnswers(recorded.postgresql);
    expect(profile).toMatchObject({ kind: 'ferretdb', backend: 'postgresql' });
    expect(profile.reads).toMatchObject({ lookup: 'run-each', runEachLimit: 50, exactCollStatsCount: false });
    // 4 importers of one update command of 10 statements stay under the 50 connections PostgreSQL's pool has.
    expect(profile.writes.updateStatementsPerCommand * profile.writes.updateCommandsInFlight * 4).toBeLessThan(50);
    expect(describeServer(profile)).toBe('FerretDB on PostgreSQL (MongoDB 7.0.42 compatible, standalone)');
  });

  it('FerretDB with no collection to explain yet: backend unknown, the scan-everything strategy', () => {
    const profile = profileFromAnswers({ buildInfo: recorded.sqlite.buildInfo, hello: recorded.sqlite.hello });
    expect(profile).toMatchObject({ kind: 'ferretdb', backend: 'unknown', reads: { lookup: 'run-in' } });
  });

  it("MongoDB gets MongoDB's semantics and limits, never FerretDB's", () => {
    const standalone = profileFromAnswers({ buildInfo: MONGODB_BUILD_INFO, hello: MONGODB_STANDALONE_HELLO });
    expect(standalone).toMatchObject({ kind: 'mongodb', version: '8.0.4', topology: 'standalone' });
    expect(standalone.backend).toBeUndefined();
    expect(standalone.capabilities).toMatchObject({ validators: true, ttlIndexes: true, partialIndexes: true, sparseIndexes: true, duplicateKeyDetails: true, transactions: false });
    expect(standalone.writes).toEqual({ updateStatementsPerCommand: 1000, updateCommandsInFlight: 16, unorderedUpdateStopsAtFirstError: false });
    expect(standalone.reads).toMatchObject({ lookup: 'id-in', pauseWritesDuringLookup: false });
    expect(profileFromAnswers({ buildInfo: MONGODB_BUILD_INFO, hello: MONGODB_REPLICA_HELLO })).toMatchObject({ topology: 'replicaSet', capabilities: { transactions: true } });
    expect(profileFromAnswers({ buildInfo: MONGODB_BUILD_INFO, hello: MONGOS_HELLO })).toMatchObject({ topology: 'sharded' });
    expect(describeServer(standalone)).toBe('MongoDB 8.0.4 (standalone)');
  });
});
