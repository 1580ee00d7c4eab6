/**
 * A real installation's schema, over the wire: the platform's baseline migration created the
 * collections and indexes before the backfill, under names of its own and (where the server holds
 * them) with validators of its own. Import adopts all of it, creates only what is missing, and
 * stops before writing anything when an existing index differs where it matters.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoServerError, type Db, type Document } from 'mongodb';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { BackfillRuntimeError } from '../../src/errors.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import { runVerify } from '../../src/pipeline/run-verify.js';
import { DEFAULT_COLLECTION_NAMES } from '../../src/config/collection-names.js';
import { ensureSchema } from '../../src/write/ensure-schema.js';
import { checkSchema } from '../../src/write/read-schema.js';
import { isFerretDb, serverProfileOf, testDatabases } from '../helpers/test-db.js';
import { schemaServer } from '../../src/server/server-profile.js';
import { RejectionAcceptance } from '../../src/domain/rejection-acceptance.js';

/** A listCollections entry's options (nameOnly entries have none). */
const optionsOf = (info: object | undefined): unknown => (info && 'options' in info ? info.options : undefined);

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const silent = pino({ level: 'silent' });
const databases = testDatabases({ useBigInt64: true });
afterAll(() => databases.dropAll());

function options(): ImportOptions {
  const config = resolveConfig({ source: SAMPLE }, {}, [], REPO);
  return { ...config, source: SAMPLE };
}

/** The migration's indexes: the spec's keys under its own names. */
const MIGRATION_INDEXES: Array<{ collection: string; key: Document; name: string; unique?: boolean; sparse?: boolean }> = [
  { collection: 'pack_run_logs', key: { runId: 1, sequence: 1 }, name: 'ux_logs_run_sequence', unique: true },
  { collection: 'pack_artifacts', key: { runId: 1, name: 1 }, name: 'ux_artifacts_run_name', unique: true },
  { collection: 'pack_run_approvals', key: { runId: 1, approvalId: 1 }, name: 'ux_approvals_run_approval', unique: true },
  { collection: 'pack_runs', key: { updatedAt: -1 }, name: 'ix_runs_updated' },
  { collection: 'pack_runs', key: { tenantId: 1, updatedAt: -1 }, name: 'ix_runs_tenant_updated', sparse: true },
  { collection: 'pack_run_logs', key: { runId: 1, timestamp: 1 }, name: 'ix_logs_run_time' },
  { collection: 'pack_run_logs', key: { timestamp: 1 }, name: 'ix_logs_time' },
  { collection: 'pack_artifacts', key: { runId: 1 }, name: 'ix_artifacts_run' },
];

/** A validator of the migration's own: required fields only, so the sample's documents pass it. */
const MIGRATION_VALIDATOR: Document = { $jsonSchema: { bsonType: 'object', required: ['runId'] } };

/**
 * Creates the four collections as a migration would, with a validator of its own where the server
 * holds one. Returns whether it did (FerretDB answers "not implemented": then without).
 */
async function migrate(db: Db): Promise<boolean> {
  let validators = true;
  for (const name of ['pack_runs', 'pack_run_logs', 'pack_run_approvals', 'pack_artifacts']) {
    const validator = name === 'pack_runs' ? { $jsonSchema: { bsonType: 'object', required: ['planHash'] } } : MIGRATION_VALIDATOR;
    if (validators) {
      try {
        await db.createCollection(name, { validator });
        continue;
      } catch (error) {
        expect(error).toBeInstanceOf(MongoServerError);
        expect((error as MongoServerError).code).toBe(238);
        validators = false;
      }
    }
    await db.createCollection(name);
  }
  for (const index of MIGRATION_INDEXES) {
    await db.collection(index.collection).createIndex(index.key, { name: index.name, ...(index.unique ? { unique: true } : {}), ...(index.sparse ? { sparse: true } : {}) });
  }
  return validators;
}

async function indexNames(db: Db, collection: string): Promise<string[]> {
  return (await db.collection(collection).listIndexes().toArray()).map((index) => String(index.name)).sort();
}

async function collectionNames(db: Db): Promise<string[]> {
  return (await db.listCollections({}, { nameOnly: true }).toArray()).map((entry) => entry.name).sort();
}

describe('a schema the migration created', () => {
  it('imports and verifies cleanly: indexes kept under their names, none added, validators left as they were', async () => {
    const t = await databases.open('adopt_migration');
    const heldValidators = await migrate(t.db);
    expect(heldValidators).toBe(!(await isFerretDb(t.client)));
    const before = new Map(await Promise.all(['pack_runs', 'pack_run_logs', 'pack_run_approvals', 'pack_artifacts'].map(async (name) => [name, await indexNames(t.db, name)] as const)));
    const validatorsBefore = await t.db.listCollections().toArray();

    const expected = JSON.parse(await readFile(path.join(REPO, 'fixtures/sample.expected.json'), 'utf8')) as { documents: Record<string, number>; rejected: Record<string, number> };
    const rejects: string[] = [];
    const report = await runImport(options(), { db: t.db, serverLabel: 'test', logger: silent, onRejection: (rejection) => rejects.push(JSON.stringify(rejection)) });
    expect(report.complete).toBe(true);
    for (const [name, count] of Object.entries(expected.documents)) expect(await t.db.collection(name).countDocuments(), name).toBe(count);
    expect(report.totals.rejected).toBe(Object.values(expected.rejected).reduce((a, b) => a + b, 0));
    expect(report.totals.conflict).toBe(0);

    for (const [name, indexes] of before) expect(await indexNames(t.db, name), name).toEqual(indexes);
    if (heldValidators) {
      // Never modified (no collMod), never recreated; the report says they were adopted.
      const after = await t.db.listCollections().toArray();
      for (const entry of validatorsBefore) expect(optionsOf(after.find((candidate) => candidate.name === entry.name))).toEqual(optionsOf(entry));
      expect(report.warnings.some((warning) => warning.code === 'schema-adopted' && warning.message.includes("the installation's own"))).toBe(true);
    }

    // The sample's deliberate rejections, reviewed and accepted: verify then passes on the records and the schema.
    const acceptance = RejectionAcceptance.parse(rejects.join('\n'));
    if ('error' in acceptance) throw new Error(acceptance.error);
    const verified = await runVerify({ ...options(), acceptance }, { db: t.db, serverLabel: 'test' });
    expect(verified.passed).toBe(true);
    expect(verifyExitCode(verified)).toBe(0);
    expect(verified.schemaCheck).toMatchObject({ passed: true, uniqueKeysEnforced: true, blocksImport: false });
    expect(verified.schemaCheck?.items.find((item) => item.key === '{ runId: 1, sequence: 1 }')).toMatchObject({ name: 'ux_logs_run_sequence', status: 'present' });

    // A second import changes nothing in the schema either.
    await runImport(options(), { db: t.db, serverLabel: 'test', logger: silent });
    for (const [name, indexes] of before) expect(await indexNames(t.db, name), name).toEqual(indexes);
  });

  it('creates only what is missing, under its usual name or, when that is taken by another key, another one', async () => {
    const t = await databases.open('adopt_partial');
    await t.db.createCollection('pack_runs');
    await t.db.collection('pack_runs').createIndex({ planHash: 1 }, { name: 'updatedAt_-1' });
    await t.db.collection('pack_run_logs').createIndex({ runId: 1, sequence: 1 }, { name: 'ux_logs_run_sequence', unique: true });
    const { actions } = await ensureSchema(t.db, DEFAULT_COLLECTION_NAMES, {}, () => undefined, schemaServer(await serverProfileOf(t.client)));
    expect(await indexNames(t.db, 'pack_runs')).toEqual(['_id_', 'tenantId_1_updatedAt_-1', 'updatedAt_-1', 'updatedAt_-1_2']);
    expect(await indexNames(t.db, 'pack_run_logs')).toEqual(['_id_', 'runId_1_timestamp_1', 'timestamp_1', 'ux_logs_run_sequence']);
    expect(actions.find((action) => action.name === 'ux_logs_run_sequence')).toMatchObject({ action: 'kept-index', detail: expect.stringContaining('adopted') });
    expect(actions.find((action) => action.name === 'updatedAt_-1_2')).toMatchObject({ action: 'created-index', key: '{ updatedAt: -1 }' });
    const check = await checkSchema(t.db, DEFAULT_COLLECTION_NAMES, {}, schemaServer(await serverProfileOf(t.client)));
    expect(check.passed).toBe(true);
    expect(check.items.filter((item) => item.status === 'extra').map((item) => item.name)).toEqual(['updatedAt_-1']);
  });

  it('two importers preparing an empty database at once end with one set of indexes', async () => {
    const t = await databases.open('adopt_race');
    const server = schemaServer(await serverProfileOf(t.client));
    await Promise.all([1, 2].map(() => ensureSchema(t.db, DEFAULT_COLLECTION_NAMES, {}, () => undefined, server)));
    expect(await indexNames(t.db, 'pack_run_logs')).toEqual(['_id_', 'runId_1_sequence_1', 'runId_1_timestamp_1', 'timestamp_1']);
    expect((await checkSchema(t.db, DEFAULT_COLLECTION_NAMES, {}, server)).passed).toBe(true);
  });
});

describe('an existing index that differs where it matters', () => {
  it('a non-unique { runId: 1, sequence: 1 } stops the import before any write: no collection, index, lease, session or document', async () => {
    const t = await databases.open('adopt_conflict');
    await t.db.collection('pack_run_logs').createIndex({ runId: 1, sequence: 1 }, { name: 'ux_logs_run_sequence' });
    const failure = await runImport(options(), { db: t.db, serverLabel: 'test', logger: silent }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(BackfillRuntimeError);
    expect((failure as BackfillRuntimeError).code).toBe('SCHEMA_CONFLICT');
    const message = (failure as Error).message;
    expect(message).toContain('pack_run_logs, index ux_logs_run_sequence on { runId: 1, sequence: 1 }: found plain (not unique); expected unique.');
    expect(message).toContain('stopped before writing anything');
    expect(message).not.toMatch(/\bdrop/i);

    // Only what the test itself created is there: no data collection, no ledger (so no lease or session).
    expect(await collectionNames(t.db)).toEqual(['pack_run_logs']);
    expect(await t.db.collection('pack_run_logs').countDocuments()).toBe(0);
    expect(await indexNames(t.db, 'pack_run_logs')).toEqual(['_id_', 'ux_logs_run_sequence']);
  });
});
