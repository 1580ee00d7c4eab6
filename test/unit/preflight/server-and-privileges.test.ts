/**
 * The pure readings behind preflight's server, authentication and write-access lines. FerretDB's
 * answers were recorded from v1.24.2 here; MongoDB's follow its documented shapes (hello of a
 * replica set member and of mongos, connectionStatus with showPrivileges for a readWrite user).
 */
import { describe, expect, it } from 'vitest';
import { authFacts, missingActions, type NeededAction } from '../../../src/preflight/privileges.js';
import { describeMissingFeatures, describeServer, profileFromAnswers } from '../../../src/server/server-profile.js';
import { formatBytes, formatDuration } from '../../../src/report/preflight-report.js';

const FERRETDB_BUILD_INFO = { version: '7.0.42', gitVersion: 'unknown', versionArray: [7, 0, 42, 0], ferretdbVersion: 'unknown', ok: 1 };
const FERRETDB_HELLO = { isWritablePrimary: true, maxBsonObjectSize: 16777216, maxWireVersion: 21, readOnly: false, ok: 1 };
const FERRETDB_CONNECTION_STATUS = { authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 };
const FERRETDB_SQLITE_EXPLAIN = { queryPlanner: { Plan: ['id=2 parent=0 notused=0 detail=SCAN a_e40c292c'] }, explainVersion: '1', ok: 1 };

describe('the server line (the tool\'s server profile)', () => {
  it('FerretDB (recorded): kind, versions, standalone, writable, backend from its plan', () => {
    const profile = profileFromAnswers({ buildInfo: FERRETDB_BUILD_INFO, hello: FERRETDB_HELLO, explain: FERRETDB_SQLITE_EXPLAIN });
    expect(profile).toMatchObject({ kind: 'ferretdb', version: '7.0.42', ferretdbVersion: 'unknown', topology: 'standalone', writablePrimary: true, backend: 'sqlite' });
    expect(describeServer(profile)).toBe('FerretDB on SQLite (MongoDB 7.0.42 compatible, standalone)');
    expect(describeMissingFeatures(profile.capabilities)).toEqual([
      'The server holds no $jsonSchema validators, TTL indexes, partial indexes; the import goes on without them (one warning each).',
      'The server ignores the "sparse" index option (the tenant index is created non-sparse).',
    ]);
  });

  it('MongoDB: a replica set primary, a secondary, mongos, an old isMaster answer', () => {
    const buildInfo = { version: '7.0.14', gitVersion: 'ce59cfc6a3c5e5c067dca0d30697edd68d4f5188', ok: 1 };
    const primary = profileFromAnswers({ buildInfo, hello: { isWritablePrimary: true, secondary: false, setName: 'rs0', hosts: ['a:27017', 'b:27017'], ok: 1 } });
    expect(primary).toMatchObject({ kind: 'mongodb', topology: 'replicaSet', setName: 'rs0', writablePrimary: true });
    expect(describeServer(primary)).toBe('MongoDB 7.0.14 (replica set rs0)');
    expect(describeMissingFeatures(primary.capabilities)).toEqual([]);
    expect(profileFromAnswers({ buildInfo, hello: { isWritablePrimary: false, secondary: true, setName: 'rs0', ok: 1 } })).toMatchObject({ topology: 'replicaSet', writablePrimary: false });
    expect(profileFromAnswers({ buildInfo, hello: { isWritablePrimary: true, msg: 'isdbgrid', ok: 1 } })).toMatchObject({ topology: 'sharded', writablePrimary: true });
    expect(profileFromAnswers({ buildInfo: { version: '4.0.28' }, hello: { ismaster: true, ok: 1 } })).toMatchObject({ version: '4.0.28', writablePrimary: true, topology: 'standalone' });
  });
});

describe('authFacts and missingActions', () => {
  const needed: NeededAction[] = [
    { collection: '', action: 'listCollections' },
    { collection: 'pack_runs', action: 'insert' },
    { collection: 'pack_runs', action: 'createIndex' },
    { collection: 'taskrunner_backfill_ledger', action: 'remove' },
  ];

  it('no authentication (FerretDB, recorded): no users, no privileges listed, nothing can be said missing', () => {
    const facts = authFacts(FERRETDB_CONNECTION_STATUS);
    expect(facts).toEqual({ users: [], roles: [] });
    expect(missingActions(facts.privileges, 'taskrunner', needed)).toEqual([]);
  });

  it('a read-only user lacks the writes; readWrite on the database grants them', () => {
    const readOnly = authFacts({
      authInfo: {
        authenticatedUsers: [{ user: 'backfill', db: 'admin' }],
        authenticatedUserRoles: [{ role: 'read', db: 'taskrunner' }],
        authenticatedUserPrivileges: [{ resource: { db: 'taskrunner', collection: '' }, actions: ['find', 'listCollections', 'listIndexes', 'collStats'] }],
      },
      ok: 1,
    });
    expect(readOnly.users).toEqual([{ user: 'backfill', db: 'admin' }]);
    expect(missingActions(readOnly.privileges, 'taskrunner', needed).map((item) => `${item.collection}:${item.action}`)).toEqual([
      'pack_runs:insert',
      'pack_runs:createIndex',
      'taskrunner_backfill_ledger:remove',
    ]);
    const readWrite = authFacts({
      authInfo: {
        authenticatedUsers: [{ user: 'backfill', db: 'admin' }],
        authenticatedUserRoles: [{ role: 'readWrite', db: 'taskrunner' }],
        authenticatedUserPrivileges: [
          { resource: { db: 'taskrunner', collection: '' }, actions: ['createCollection', 'createIndex', 'dropCollection', 'find', 'insert', 'listCollections', 'listIndexes', 'remove', 'update'] },
        ],
      },
      ok: 1,
    });
    expect(missingActions(readWrite.privileges, 'taskrunner', needed)).toEqual([]);
    // Privileges on another database grant nothing here; anyResource grants everything.
    expect(missingActions(readWrite.privileges, 'other', needed)).toHaveLength(4);
    expect(missingActions([{ resource: { anyResource: true }, actions: ['listCollections', 'insert', 'createIndex', 'remove'] }], 'other', needed)).toEqual([]);
  });
});

describe('formatting', () => {
  it('durations and sizes', () => {
    expect(formatDuration(0.2)).toBe('under 1 s');
    expect(formatDuration(47.1)).toBe('47 s');
    expect(formatDuration(250)).toBe('4 min 10 s');
    expect(formatDuration(7500)).toBe('2 h 05 min');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(38 * 1024)).toBe('38.0 KiB');
    expect(formatBytes(3.5 * 1024 ** 3)).toBe('3.5 GiB');
  });
});
