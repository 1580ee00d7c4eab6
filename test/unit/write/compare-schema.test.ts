import type { Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { DEFAULT_COLLECTION_NAMES } from '../../../src/config/collection-names.js';
import type { SchemaCheck, SchemaItem } from '../../../src/report/schema-check.js';
import { schemaVerifyFailure } from '../../../src/report/schema-check.js';
import { MONGODB_DEFAULTS, ferretDbProfile } from '../../../src/server/server-profile.js';
import { compareSchema, sameKey, type ObservedSchema, type SchemaServer } from '../../../src/write/compare-schema.js';
import { schemaConflictError } from '../../../src/write/ensure-schema.js';
import { VALIDATORS } from '../../../src/write/schema-validators.js';
import { schemaPlan, type SchemaOptions } from '../../../src/write/schema-spec.js';
import { FERRETDB_AFTER_SCHEMA, mongodbMigrationSchema } from './recorded-schema-answers.js';

/** What the schema code knows of each server: from the server profile, as the import builds it. */
const MONGODB: SchemaServer = { description: 'MongoDB 8.0.4 (standalone)', ...MONGODB_DEFAULTS.capabilities };
const FERRETDB: SchemaServer = { description: 'FerretDB on SQLite (MongoDB 7.0.42 compatible, standalone)', ...ferretDbProfile('sqlite').capabilities };
const idIndex = { v: 2, key: { _id: 1 }, name: '_id_' };

function check(observed: ObservedSchema, server = MONGODB, options: SchemaOptions = {}): SchemaCheck {
  return compareSchema('taskrunner', schemaPlan(DEFAULT_COLLECTION_NAMES, options), observed, server);
}

function item(result: SchemaCheck, collection: string, kind: SchemaItem['kind'], key?: string): SchemaItem {
  const found = result.items.find((candidate) => candidate.collection === collection && candidate.kind === kind && (key === undefined || candidate.key === key) && candidate.status !== 'extra');
  if (!found) throw new Error(`no ${kind} item for ${collection} ${key ?? ''}: ${JSON.stringify(result.items.map((i) => [i.collection, i.kind, i.key]))}`);
  return found;
}

const LOGS_KEY = '{ runId: 1, sequence: 1 }';

describe('compareSchema', () => {
  it('an empty database: every collection and index missing (check fails), nothing blocks the import', () => {
    const result = check({ collections: [], indexes: new Map() });
    expect(result.passed).toBe(false);
    expect(result.blocksImport).toBe(false);
    expect(result.uniqueKeysEnforced).toBe(false);
    expect(result.counts.missing).toBe(4 + 8 + 1);
    expect(item(result, 'pack_run_logs', 'index', LOGS_KEY)).toMatchObject({ status: 'missing', severity: 'fail', failsVerify: true, blocksImport: false });
    expect(item(result, 'pack_runs', 'index', '{ updatedAt: -1 }')).toMatchObject({ status: 'missing', severity: 'fail', failsVerify: false });
    // The ledger is created by the first write: its absence does not matter.
    expect(item(result, 'taskrunner_backfill_ledger', 'ledger')).toMatchObject({ status: 'missing', severity: 'ok' });
    expect(schemaVerifyFailure(result)).toContain('pack_run_logs { runId: 1, sequence: 1 } (no such index)');
  });

  it('FerretDB after `schema` (recorded): passes, one warning about validators, the ignored sparse option is not a difference', () => {
    const result = check(FERRETDB_AFTER_SCHEMA, FERRETDB);
    expect(result.passed).toBe(true);
    expect(result.blocksImport).toBe(false);
    expect(result.uniqueKeysEnforced).toBe(true);
    expect(result.warnings).toEqual([expect.stringContaining('does not support $jsonSchema validators')]);
    expect(result.items.filter((i) => i.kind === 'validator')).toEqual([]);
    expect(item(result, 'pack_runs', 'index', '{ tenantId: 1, updatedAt: -1 }')).toMatchObject({ status: 'present', severity: 'ok', note: 'this server ignores the sparse option' });
    expect(result.counts).toMatchObject({ missing: 0, differs: 0, extra: 0, failures: 0 });
  });

  it('the same answers judged as MongoDB: the tenant index that is not sparse is a warning, not a failure', () => {
    const result = check(FERRETDB_AFTER_SCHEMA, MONGODB);
    expect(item(result, 'pack_runs', 'index', '{ tenantId: 1, updatedAt: -1 }')).toMatchObject({ status: 'differs', severity: 'warn', blocksImport: false });
    // MongoDB supports validators: collections without one are listed, and that does not matter.
    expect(item(result, 'pack_run_logs', 'validator')).toMatchObject({ status: 'missing', severity: 'ok' });
    expect(result.passed).toBe(true);
  });

  it('a migration\'s schema: indexes under other names count as present; its own validators are kept (a warning)', () => {
    const result = check(mongodbMigrationSchema());
    expect(result.passed).toBe(true);
    expect(result.blocksImport).toBe(false);
    expect(result.uniqueKeysEnforced).toBe(true);
    expect(item(result, 'pack_run_logs', 'index', LOGS_KEY)).toMatchObject({ name: 'ux_logs_run_sequence', status: 'present', severity: 'ok', found: 'unique' });
    expect(item(result, 'pack_runs', 'index', '{ tenantId: 1, updatedAt: -1 }')).toMatchObject({ name: 'ix_runs_tenant_updated', status: 'present', severity: 'ok' });
    expect(item(result, 'pack_run_logs', 'validator')).toMatchObject({ status: 'differs', severity: 'warn', blocksImport: false, found: "the installation's own ($jsonSchema), validationLevel strict, validationAction error" });
    expect(item(result, 'pack_run_approvals', 'validator').found).toContain('query operators');
    expect(result.items.filter((i) => i.status === 'extra')).toEqual([]);
  });

  it('our own validator is recognised whatever the order of its keys', () => {
    const reversed = (doc: unknown): unknown =>
      Array.isArray(doc) ? doc.map(reversed) : typeof doc === 'object' && doc !== null ? Object.fromEntries(Object.entries(doc).reverse().map(([k, v]) => [k, reversed(v)])) : doc;
    const observed = mongodbMigrationSchema({ logsOptions: { validator: reversed(VALIDATORS.logs) as Document, validationLevel: 'moderate' } });
    expect(item(check(observed), 'pack_run_logs', 'validator')).toMatchObject({ status: 'present', severity: 'ok', found: 'our validator, validationLevel moderate' });
  });

  it('a unique key held by a non-unique index stops the import with what differs and what to do', () => {
    const observed = mongodbMigrationSchema({
      logsIndexes: [idIndex, { v: 2, key: { runId: 1, sequence: 1 }, name: 'ux_logs_run_sequence' }, { v: 2, key: { runId: 1, timestamp: 1 }, name: 'ix_logs_run_time' }, { v: 2, key: { timestamp: 1 }, name: 'ix_logs_time' }],
    });
    const result = check(observed);
    const logs = item(result, 'pack_run_logs', 'index', LOGS_KEY);
    expect(logs).toMatchObject({ name: 'ux_logs_run_sequence', status: 'differs', severity: 'fail', blocksImport: true, failsVerify: true, expected: 'unique', found: 'plain (not unique)' });
    expect(result.blocksImport).toBe(true);
    expect(result.uniqueKeysEnforced).toBe(false);
    const message = schemaConflictError(result).message;
    expect(message).toContain('stopped before writing anything');
    expect(message).toContain('pack_run_logs, index ux_logs_run_sequence on { runId: 1, sequence: 1 }: found plain (not unique); expected unique.');
    expect(message).toContain('prepareUnique: true');
    // It never tells the operator to drop an index that is as the spec asks (nor this one outright).
    expect(message).not.toMatch(/\bdrop/i);
    expect(schemaVerifyFailure(result)).toContain('pack_run_logs { runId: 1, sequence: 1 } (plain (not unique))');
  });

  it('a unique index where the spec has a plain one is a warning, not a stop', () => {
    const result = check(mongodbMigrationSchema({ artifactsIndexes: [idIndex, { v: 2, key: { runId: 1, name: 1 }, name: 'ux', unique: true }, { v: 2, key: { runId: 1 }, name: 'ux_run', unique: true }] }));
    expect(item(result, 'pack_artifacts', 'index', '{ runId: 1 }')).toMatchObject({ status: 'differs', severity: 'warn', blocksImport: false, failsVerify: false });
    expect(result.passed).toBe(true);
  });

  describe('the TTL of the logs timestamp index', () => {
    const ttlIndexes = (seconds: number | undefined): Document[] => [
      idIndex,
      { v: 2, key: { runId: 1, sequence: 1 }, name: 'ux_logs_run_sequence', unique: true },
      { v: 2, key: { runId: 1, timestamp: 1 }, name: 'ix_logs_run_time' },
      { v: 2, key: { timestamp: 1 }, name: 'ix_logs_ttl', ...(seconds === undefined ? {} : { expireAfterSeconds: seconds }) },
    ];

    it('a TTL nobody asked for stops the import (the server would delete backfilled history); --logs-retention-days with its value accepts it', () => {
      const without = item(check(mongodbMigrationSchema({ logsIndexes: ttlIndexes(30 * 86_400) })), 'pack_run_logs', 'index', '{ timestamp: 1 }');
      expect(without).toMatchObject({ status: 'differs', severity: 'fail', blocksImport: true, failsVerify: false, found: 'plain (not unique), TTL 30 d (2592000 s)', expected: 'plain, no TTL' });
      expect(without.hint).toContain('--logs-retention-days 30');
      const accepted = item(check(mongodbMigrationSchema({ logsIndexes: ttlIndexes(30 * 86_400) }), MONGODB, { logsRetentionDays: 30 }), 'pack_run_logs', 'index', '{ timestamp: 1 }');
      expect(accepted).toMatchObject({ status: 'present', severity: 'ok', blocksImport: false });
    });

    it('another retention than asked for, or none where one is asked for, stops the import', () => {
      const other = item(check(mongodbMigrationSchema({ logsIndexes: ttlIndexes(30 * 86_400) }), MONGODB, { logsRetentionDays: 90 }), 'pack_run_logs', 'index', '{ timestamp: 1 }');
      expect(other).toMatchObject({ severity: 'fail', blocksImport: true, expected: 'plain, TTL 90 d (7776000 s)' });
      expect(other.note).toContain('TTL 30 d');
      const none = item(check(mongodbMigrationSchema({ logsIndexes: ttlIndexes(undefined) }), MONGODB, { logsRetentionDays: 90 }), 'pack_run_logs', 'index', '{ timestamp: 1 }');
      expect(none).toMatchObject({ severity: 'fail', blocksImport: true });
      expect(none.hint).toContain('expireAfterSeconds: 7776000');
    });

    it('on a server without TTL (FerretDB) an asked-for retention is a warning: it cannot be held', () => {
      const result = check(FERRETDB_AFTER_SCHEMA, FERRETDB, { logsRetentionDays: 90 });
      expect(item(result, 'pack_run_logs', 'index', '{ timestamp: 1 }')).toMatchObject({ status: 'unsupported', severity: 'warn', blocksImport: false });
      expect(result.passed).toBe(true);
    });
  });

  it('key order and direction matter; the name does not', () => {
    expect(sameKey({ runId: 1, sequence: 1 }, { runId: 1, sequence: 1 })).toBe(true);
    expect(sameKey({ runId: 1.0, sequence: 1n }, { runId: 1, sequence: 1 })).toBe(true);
    expect(sameKey({ sequence: 1, runId: 1 }, { runId: 1, sequence: 1 })).toBe(false);
    expect(sameKey({ updatedAt: 1 }, { updatedAt: -1 })).toBe(false);
    expect(sameKey({ runId: 'hashed' }, { runId: 1 })).toBe(false);
    const result = check(mongodbMigrationSchema({ logsIndexes: [idIndex, { v: 2, key: { sequence: 1, runId: 1 }, name: 'runId_1_sequence_1', unique: true }] }));
    const logs = item(result, 'pack_run_logs', 'index', LOGS_KEY);
    expect(logs).toMatchObject({ status: 'missing', severity: 'fail', blocksImport: false });
    expect(logs.note).toContain('its usual name runId_1_sequence_1 is taken by the index on { sequence: 1, runId: 1 }');
    expect(result.items.find((i) => i.status === 'extra' && i.name === 'runId_1_sequence_1')).toMatchObject({ severity: 'warn', key: '{ sequence: 1, runId: 1 }' });
  });

  it('extra indexes are listed; an extra unique one is a warning (it can refuse records the spec allows)', () => {
    const result = check(mongodbMigrationSchema({ runsIndexes: [idIndex, { v: 2, key: { updatedAt: -1 }, name: 'a' }, { v: 2, key: { tenantId: 1, updatedAt: -1 }, name: 'b', sparse: true }, { v: 2, key: { planHash: 1 }, name: 'ix_plan' }, { v: 2, key: { planHash: 1, tenantId: 1 }, name: 'ux_plan', unique: true }] }));
    const extras = result.items.filter((i) => i.status === 'extra');
    expect(extras.map((i) => [i.name, i.severity])).toEqual([
      ['ix_plan', 'ok'],
      ['ux_plan', 'warn'],
    ]);
    expect(result.passed).toBe(true);
  });

  it('a view or a capped collection in place of a data collection stops the import', () => {
    const observed = mongodbMigrationSchema();
    const collections = observed.collections.map((entry) =>
      entry.name === 'pack_runs' ? { name: 'pack_runs', type: 'view', options: { viewOn: 'runs_v1', pipeline: [] } } : entry.name === 'pack_run_logs' ? { ...entry, options: { capped: true, size: 1 << 30 } } : entry,
    );
    const result = check({ ...observed, collections });
    expect(item(result, 'pack_runs', 'collection')).toMatchObject({ status: 'differs', severity: 'fail', blocksImport: true });
    expect(item(result, 'pack_run_logs', 'collection').note).toContain('capped');
    expect(item(result, 'pack_runs', 'index', '{ updatedAt: -1 }')).toMatchObject({ status: 'missing', found: 'not a regular collection' });
    expect(schemaConflictError(result).message).toContain('pack_runs, collection: found view');
  });

  it('partial, collation and hidden options on a unique index are warnings that say what they change', () => {
    const result = check(
      mongodbMigrationSchema({
        logsIndexes: [
          idIndex,
          { v: 2, key: { runId: 1, sequence: 1 }, name: 'ux', unique: true, partialFilterExpression: { runId: { $exists: true } }, collation: { locale: 'en', strength: 2 } },
          { v: 2, key: { runId: 1, timestamp: 1 }, name: 'ix', hidden: true },
          { v: 2, key: { timestamp: 1 }, name: 'ts' },
        ],
      }),
    );
    const logs = item(result, 'pack_run_logs', 'index', LOGS_KEY);
    expect(logs).toMatchObject({ status: 'differs', severity: 'warn', blocksImport: false, failsVerify: false });
    expect(logs.note).toContain('uniqueness holds only among documents matching the filter');
    expect(logs.note).toContain('differ only in case');
    expect(item(result, 'pack_run_logs', 'index', '{ runId: 1, timestamp: 1 }').note).toContain('hidden');
  });
});
