/**
 * The server contract: what the tool relies on from a MongoDB-protocol server, as one suite run on
 * every server of the matrix (FerretDB on SQLite and on PostgreSQL in CI; any server an operator
 * names with MONGODB_URI). It reads the server's profile (src/server/server-profile.ts, the tool's
 * own detection) and checks that the profile's claims hold on that server, and it drives the
 * tool's own write, read, retry and lease functions over the wire: never re-implemented here.
 *
 * `describeServerContract(target)` registers the tests, as unstorage's `testDriver` does for each
 * storage driver; server-contract.test.ts calls it for the server of the run.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoBulkWriteError, MongoClient, ObjectId, type CommandStartedEvent, type Db, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_COLLECTION_NAMES } from '../../src/config/collection-names.js';
import { BackfillRuntimeError } from '../../src/errors.js';
import { LedgerStore } from '../../src/ledger/ledger-store.js';
import type { LedgerLease } from '../../src/ledger/ledger-types.js';
import type { LogDocument } from '../../src/normalize/documents.js';
import { ImportTally } from '../../src/domain/import-tally.js';
import { detectServerProfile, type ReadStrategy, type ServerProfile } from '../../src/server/server-profile.js';
import { classifyExistingLogs, insertLogBatch } from '../../src/write/insert-logs.js';
import type { PendingRecord } from '../../src/domain/pending-record.js';
import { findWhereIn, updateCommands } from '../../src/server/server-commands.js';
import { DUPLICATE_KEY, NOT_IMPLEMENTED, isNotImplemented, isTransientError } from '../../src/server/server-errors.js';
import { RUNS_SPEC, upsertVersionedBatch } from '../../src/write/upsert-versioned.js';
import { withRetries, type RetryPolicy } from '../../src/server/with-retries.js';
import { startFerretDb, getFreePort, type FerretDbHandle } from '../helpers/test-server.js';
import { dumpCollection } from '../helpers/dump.js';
import type { TestDb } from '../helpers/test-db.js';
import { lossyProxy } from './lossy-proxy.js';
import { LOG_UNIQUE_KEY, idsOf, logRecord, logRecords, type ContractTarget } from './contract-target.js';

const LOGS = DEFAULT_COLLECTION_NAMES.logs;
const RUNS = DEFAULT_COLLECTION_NAMES.runs;
const LEDGER = DEFAULT_COLLECTION_NAMES.ledger;

/** Every lookup the server profile may choose (`ReadStrategy.lookup`); all must read the same documents on any server. */
const LOOKUPS: ReadonlyArray<Pick<ReadStrategy, 'lookup' | 'runEachLimit'>> = [
  { lookup: 'id-in', runEachLimit: 0 },
  { lookup: 'run-in', runEachLimit: 0 },
  { lookup: 'run-each', runEachLimit: 50 },
];

/** The profile the tool gets in a database of this server (FerretDB's backend needs a collection to explain). */
async function profileIn(db: Db): Promise<ServerProfile> {
  await db.createCollection('contract_probe').catch(() => undefined);
  return detectServerProfile(db, ['contract_probe']);
}

/** A logs collection with the spec's unique key. */
async function logsCollection(db: Db) {
  const logs = db.collection<Document>(LOGS);
  await logs.createIndex(LOG_UNIQUE_KEY, { unique: true, name: 'runId_1_sequence_1' });
  return logs;
}

/** Settles `promise`, or fails naming what did not answer (a server that never answers must fail the test, not hang it). */
async function answersWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure, but it succeeded');
}

export function describeServerContract(target: ContractTarget): void {
  describe('server contract', () => {
    let t: TestDb;
    let profile: ServerProfile;

    beforeAll(async () => {
      t = await target.open('contract');
      profile = await profileIn(t.db);
      process.stderr.write(`[contract] server profile: ${JSON.stringify(profile)}\n`);
    });
    afterAll(async () => target.dropAll());

    /** A fresh database of this server per test: no test sees another's documents. */
    const fresh = (prefix: string) => target.open(`contract_${prefix}`);

    describe('the profile describes this server', () => {
      it('kind, backend and topology are those of the server answering', async () => {
        const buildInfo = await t.db.admin().command({ buildInfo: 1 });
        expect(profile.kind).toBe(Object.hasOwn(buildInfo, 'ferretdbVersion') ? 'ferretdb' : 'mongodb');
        if (target.serverKind === 'ferretdb') {
          // The global setup started it on a known backend: the profile must have recognized it.
          expect(profile.kind).toBe('ferretdb');
          expect(profile.backend).toBe(target.serverBackend);
        }
        const hello = await t.db.admin().command({ hello: 1 });
        const topology = typeof hello.setName === 'string' ? 'replicaSet' : hello.msg === 'isdbgrid' ? 'sharded' : 'standalone';
        expect(profile.topology).toBe(topology);
      });

      it('validators, TTL and partial indexes work where the profile says so, and answer 238 (not implemented) elsewhere', async () => {
        const { db } = await fresh('features');
        const capabilities = profile.capabilities;

        const validated = db.createCollection('validated', { validator: { $jsonSchema: { bsonType: 'object', required: ['must'] } }, validationLevel: 'strict' });
        if (capabilities.validators) {
          await validated;
          const info = await db.listCollections({ name: 'validated' }).next();
          expect(info && 'options' in info ? info.options?.validator : undefined).toBeDefined();
          const refused = await failureOf(db.collection('validated').insertOne({ other: 1 }));
          expect((refused as { code?: number }).code, 'a document the validator refuses').toBe(121);
        } else {
          const error = await failureOf(validated);
          expect(isNotImplemented(error), String(error)).toBe(true);
          expect((error as { code?: number }).code).toBe(NOT_IMPLEMENTED);
        }

        const plain = db.collection('plain');
        await plain.insertOne({ t: new Date(), p: 1, s: 1 });
        for (const [supported, create, option] of [
          [capabilities.ttlIndexes, () => plain.createIndex({ t: 1 }, { name: 't_ttl', expireAfterSeconds: 3600 }), 'expireAfterSeconds'],
          [capabilities.partialIndexes, () => plain.createIndex({ p: 1 }, { name: 'p_partial', partialFilterExpression: { p: { $exists: true } } }), 'partialFilterExpression'],
        ] as const) {
          if (supported) {
            await create();
          } else {
            const error = await failureOf(create());
            expect(isNotImplemented(error), `${option}: ${String(error)}`).toBe(true);
            expect((error as { code?: number }).code).toBe(NOT_IMPLEMENTED);
          }
        }
        // `sparse` is accepted everywhere; only a server whose profile says it has an effect lists it.
        await plain.createIndex({ s: 1 }, { name: 's_sparse', sparse: true });
        const indexes = new Map((await plain.listIndexes().toArray()).map((index) => [String(index.name), index]));
        expect(indexes.get('t_ttl')?.expireAfterSeconds).toBe(capabilities.ttlIndexes ? 3600 : undefined);
        expect(indexes.get('p_partial')?.partialFilterExpression !== undefined).toBe(capabilities.partialIndexes);
        expect(indexes.has('s_sparse')).toBe(true);
        expect(indexes.get('s_sparse')?.sparse === true).toBe(capabilities.sparseIndexes);
      });

      it('transactions commit exactly where the profile says they exist', async () => {
        const { client, db } = await fresh('transactions');
        const collection = db.collection('tx');
        await collection.insertOne({ _id: 'before' } as Document);
        const session = client.startSession();
        try {
          const attempt = (async () => {
            session.startTransaction();
            await collection.insertOne({ _id: 'inside' } as Document, { session });
            await session.commitTransaction();
          })();
          if (profile.capabilities.transactions) {
            await attempt;
            expect(await collection.countDocuments({ _id: 'inside' } as Document)).toBe(1);
          } else {
            await failureOf(attempt);
            if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
            expect(await collection.countDocuments({ _id: 'inside' } as Document)).toBe(0);
          }
        } finally {
          await session.endSession();
        }
      });
    });

    describe('unique keys: inserting the same log entries again changes nothing', () => {
      it('a second identical batch through insertLogBatch: every entry comes back as a duplicate, none inserted, the stored bytes unchanged', async () => {
        const { db } = await fresh('idempotence');
        const logs = await logsCollection(db);
        const batch = logRecords(['run-a', 'run-b', 'run-c'], 40);

        const first = new ImportTally();
        expect(await insertLogBatch(logs, batch, first)).toEqual([]);
        expect(first.total('inserted')).toBe(batch.length);
        const before = await dumpCollection(db, 'logs', LOGS);
        expect(before.count).toBe(batch.length);

        const second = new ImportTally();
        const duplicates = await insertLogBatch(logs, batch, second);
        expect(duplicates).toEqual(batch); // every record, in batch order
        expect(second.total('inserted')).toBe(0);
        expect(second.rejections).toEqual([]);
        const after = await dumpCollection(db, 'logs', LOGS);
        expect(after.bson.equals(before.bson), 'the stored documents are byte-identical').toBe(true);

        // The raw answer the tool relies on: an unordered insertMany reports every one as 11000, inserts none.
        const error = await failureOf(logs.insertMany(batch.map((record) => record.doc), { ordered: false }));
        expect(error).toBeInstanceOf(MongoBulkWriteError);
        const bulk = error as MongoBulkWriteError;
        const writeErrors = Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors];
        expect(writeErrors.map((e) => e.code)).toEqual(batch.map(() => DUPLICATE_KEY));
        expect(bulk.insertedCount).toBe(0);
        expect(await logs.countDocuments({})).toBe(batch.length);
      });

      it('the unique (runId, sequence) index refuses the same key under another _id', async () => {
        const { db } = await fresh('unique_key');
        const logs = await logsCollection(db);
        const batch = logRecords(['run-a'], 20);
        await insertLogBatch(logs, batch, new ImportTally());
        const sameKeys = batch.map((record) => ({ ...record, doc: { ...record.doc, _id: new ObjectId() } }));
        const tally = new ImportTally();
        const duplicates = await insertLogBatch(logs, sameKeys, tally);
        expect(duplicates.length).toBe(sameKeys.length);
        expect(tally.total('inserted')).toBe(0);
        expect(await logs.countDocuments({})).toBe(batch.length);
      });
    });

    describe.each(LOOKUPS)('insert-if-absent: insertLogBatch + classifyExistingLogs with the $lookup lookup', (lookup) => {
      it('tells entries written before (unchanged) from other content under the same key (conflict); nothing stored changes', async () => {
        const { db } = await fresh(`classify_${lookup.lookup}`);
        const logs = await logsCollection(db);
        const entry = (sequence: number, overrides: Record<string, unknown> = {}) => logRecord('run-1', sequence, overrides);
        // Entries 1-3 as an earlier import wrote them (same derived _id).
        await logs.insertMany([entry(1), entry(2), entry(3)].map((record) => record.doc));
        // 4: the same key written by someone else (the live service): its own _id, same content.
        await logs.insertOne({ ...entry(4).doc, _id: new ObjectId() });
        // 5: the same key by someone else with other content.
        await logs.insertOne({ ...entry(5).doc, _id: new ObjectId(), message: 'written by the service' });
        // 6: our _id, other content (the line was edited in the file after the import).
        await logs.insertOne({ ...entry(6).doc, message: 'before the edit' });
        // 7: a timestamp edited in the file: another derived _id, same key.
        await logs.insertOne(entry(7, { timestamp: '2025-11-06T08:00:00Z' }).doc);
        const before = await dumpCollection(db, 'logs', LOGS);

        const batch = [1, 2, 3, 4, 5, 6, 7, 8].map((sequence) => entry(sequence));
        const tally = new ImportTally();
        const existing = await insertLogBatch(logs, batch, tally);
        expect(existing.map((record) => record.doc.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
        await classifyExistingLogs(logs, existing, tally, lookup);

        expect(tally.total('inserted')).toBe(1);
        expect(tally.total('unchanged')).toBe(4);
        expect(tally.conflicts.map((conflict) => [conflict.key, conflict.fields])).toEqual([
          ['run-1#5', ['message']],
          ['run-1#6', ['message']],
          ['run-1#7', ['timestamp']],
        ]);
        // Only entry 8 was added; what was stored is untouched by the comparison.
        expect(await logs.countDocuments({})).toBe(8);
        const after = await dumpCollection(db, 'logs', LOGS);
        expect(after.ejson.filter((line) => !line.includes('"$numberLong":"8"'))).toEqual(before.ejson);
      });
    });

    describe('duplicate keys are reported by operation index', () => {
      it('unordered insert: writeErrors at the indexes of the duplicates, with keyPattern/keyValue exactly where the profile says', async () => {
        const { db } = await fresh('dup_report');
        const logs = await logsCollection(db);
        const [a, b] = [logRecord('run-1', 1).doc, logRecord('run-1', 2).doc];
        await logs.insertMany([a, b]);
        const reply = await db.command({
          insert: LOGS,
          documents: [
            logRecord('run-1', 10).doc,
            a, // index 1: same _id
            logRecord('run-1', 11).doc,
            { ...b, _id: new ObjectId() }, // index 3: same (runId, sequence) under another _id
            logRecord('run-1', 12).doc,
          ],
          ordered: false,
        });
        const writeErrors = (reply.writeErrors ?? []) as Array<{ index: number; code: number; keyPattern?: Document; keyValue?: Document }>;
        expect(reply.n).toBe(3);
        expect(writeErrors.map((e) => [e.index, e.code])).toEqual([
          [1, DUPLICATE_KEY],
          [3, DUPLICATE_KEY],
        ]);
        if (profile.capabilities.duplicateKeyDetails) {
          expect(writeErrors[0]?.keyPattern).toEqual({ _id: 1 });
          expect(writeErrors[1]?.keyPattern).toEqual(LOG_UNIQUE_KEY);
          expect(writeErrors[1]?.keyValue).toMatchObject({ runId: 'run-1' });
        } else {
          // The profile says: attribute by operation index, the details are not there.
          for (const e of writeErrors) {
            expect(e.keyPattern).toBeUndefined();
            expect(e.keyValue).toBeUndefined();
          }
        }
      });

      it('insertLogBatch hands back exactly the records that met a duplicate, by their position in the batch', async () => {
        const { db } = await fresh('dup_attribution');
        const logs = await logsCollection(db);
        const batch = logRecords(['run-1'], 10);
        const stored = [0, 3, 4, 9];
        await logs.insertMany(stored.map((i) => batch[i]?.doc as LogDocument));
        const tally = new ImportTally();
        const duplicates = await insertLogBatch(logs, batch, tally);
        expect(duplicates).toEqual(stored.map((i) => batch[i]));
        expect(tally.total('inserted')).toBe(6);
        expect(await logs.countDocuments({})).toBe(10);
      });
    });

    describe('bulk partial failure', () => {
      it('unordered insert: a document the server refuses (not a duplicate) is rejected as server-refused; the ones after it are written', async () => {
        const { db } = await fresh('insert_partial');
        const logs = await logsCollection(db);
        const batch = logRecords(['run-1'], 6);
        // An array `_id` is refused by MongoDB and FerretDB alike.
        const refused = { ...batch[2], doc: { ...batch[2]?.doc, _id: [1, 2] } } as unknown as PendingRecord<LogDocument>;
        const mixed = [batch[0], batch[1], refused, batch[3], batch[4], batch[5]] as PendingRecord<LogDocument>[];
        const tally = new ImportTally();
        expect(await insertLogBatch(logs, mixed, tally)).toEqual([]);
        expect(tally.total('inserted')).toBe(5);
        expect(tally.rejections.map((rejection) => [rejection.reason, rejection.line])).toEqual([['server-refused', 3]]);
        expect((await logs.find({}).toArray()).map((doc) => doc.sequence).sort()).toEqual([1n, 2n, 4n, 5n, 6n]);
      });

      it('unordered update: later statements run after an error exactly where the profile says so, and the failure is a MongoBulkWriteError', async () => {
        const { db } = await fresh('update_partial');
        const collection = db.collection<Document>('w');
        await collection.createIndex({ k: 1 }, { unique: true, name: 'k_unique' });
        await collection.insertMany([1, 2, 3, 4].map((i) => ({ _id: i, k: i, v: 0 })) as Document[]);
        const error = await failureOf(
          collection.bulkWrite(
            [
              { updateOne: { filter: { _id: 1 }, update: { $set: { v: 1 } } } },
              { updateOne: { filter: { _id: 2 }, update: { $set: { k: 1 } } } }, // duplicate key on k
              { updateOne: { filter: { _id: 3 }, update: { $set: { v: 1 } } } },
              { updateOne: { filter: { _id: 4 }, update: { $set: { v: 1 } } } },
            ] as never,
            { ordered: false },
          ),
        );
        // upsertVersionedBatch settles any MongoBulkWriteError by reading back; anything else would escape it.
        expect(error, String(error)).toBeInstanceOf(MongoBulkWriteError);
        const applied = (await collection.find({ v: 1 }).toArray()).map((doc) => doc._id as unknown as number).sort();
        expect(applied).toEqual(profile.writes.unorderedUpdateStopsAtFirstError ? [1] : [1, 3, 4]);
        expect((await collection.findOne({ _id: 2 } as Document))?.k).toBe(2);
      });

      it("upsertVersionedBatch: a replacement refused mid-batch is rejected, every other one applied, on every server", async () => {
        const { db } = await fresh('replace_partial');
        const runs = db.collection<Document>(RUNS);
        // A unique index of the operator's own (not the spec's) makes one replacement collide.
        await runs.createIndex({ marker: 1 }, { unique: true, name: 'marker_unique' });
        const older = new Date('2025-01-01T00:00:00Z');
        const newer = new Date('2025-02-01T00:00:00Z');
        const n = 3 * profile.writes.updateStatementsPerCommand + 5; // several update commands
        const refusedAt = profile.writes.updateStatementsPerCommand + 3; // in the second one
        await runs.insertMany(Array.from({ length: n }, (_, i) => ({ _id: `run-${i}`, updatedAt: older, marker: `m${i}`, v: 0 })) as Document[]);
        await runs.insertOne({ _id: 'someone-else', updatedAt: older, marker: 'taken' } as Document);
        const records: PendingRecord<Document>[] = Array.from({ length: n }, (_, i) => ({
          doc: { _id: `run-${i}`, updatedAt: newer, marker: i === refusedAt ? 'taken' : `m${i}`, v: 1 },
          origin: { file: `state/runs/run-${i}.json` },
        }));
        const tally = new ImportTally();
        await upsertVersionedBatch(runs, RUNS_SPEC, records, tally, false, { updates: updateCommands(profile.writes), reads: profile.reads });

        const stored = new Map((await runs.find({}).toArray()).map((doc) => [String(doc._id), doc]));
        const applied = records.filter((record) => stored.get(String(record.doc._id))?.v === 1).map((record) => String(record.doc._id));
        // Every server: all but the refused replacement are applied (a server that stops an update
        // at its first error gets the rest of that command one statement at a time), the refused one
        // is a server-refused rejection naming it, and `updated` is exactly what the database holds.
        expect(applied.length).toBe(n - 1);
        expect(tally.total('updated')).toBe(applied.length);
        expect(tally.total('rejected')).toBe(1);
        expect(tally.rejections[0]).toMatchObject({ reason: 'server-refused', file: `state/runs/run-${refusedAt}.json` });
        expect(tally.total('inserted') + tally.total('unchanged') + tally.total('conflict')).toBe(0);
        // The refused replacement left the stored document as it was.
        expect(stored.get(`run-${refusedAt}`)).toMatchObject({ v: 0, marker: `m${refusedAt}`, updatedAt: older });
        for (const id of applied) expect(stored.get(id)).toMatchObject({ updatedAt: newer, v: 1 });
      });
    });

    describe('findWhereIn reads the same documents whatever the strategy', () => {
      let db: Db;
      let uri: string;
      let all: Document[];
      beforeAll(async () => {
        ({ db, uri } = await fresh('find_where_in'));
        const docs: Document[] = [];
        for (let run = 0; run < 70; run++) {
          for (let sequence = 1; sequence <= 3; sequence++) docs.push({ runId: `run-${run}`, sequence: BigInt(sequence), kind: sequence % 2 ? 'odd' : 'even' });
        }
        // Decoys: other types and shapes that equality and $in must treat alike.
        docs.push({ runId: 7, sequence: 1n, kind: 'odd' }, { runId: '7', sequence: 1n, kind: 'odd' }, { runId: 'RUN-1', sequence: 1n, kind: 'odd' }, { runId: null, kind: 'odd' }, { other: 'run-1' });
        await db.collection('f').insertMany(docs);
        all = await db.collection('f').find({}).toArray();
      });

      const cases: Array<[string, unknown[], Document]> = [
        ['no value', [], {}],
        ['one run', ['run-1'], {}],
        ['five runs, one repeated', ['run-1', 'run-2', 'run-3', 'run-2', 'run-4', 'run-5'], {}],
        ['more runs than run-each serves one by one (60)', Array.from({ length: 60 }, (_, i) => `run-${i}`), {}],
        ['a value no document has, and text that looks like a number', ['run-999', '7'], {}],
        ['with an extra filter', ['run-1', 'run-2', 'run-3'], { kind: 'odd' }],
      ];
      it.each(cases)('%s', async (_label, values, extra) => {
        const wanted = new Set(values);
        const expected = idsOf(all.filter((doc) => wanted.has(doc.runId) && Object.entries(extra).every(([field, value]) => doc[field] === value)));
        for (const lookup of LOOKUPS) {
          const found: Document[] = [];
          for await (const doc of findWhereIn(db.collection('f'), 'runId', values, lookup, extra)) found.push(doc);
          expect(idsOf(found), `lookup ${lookup.lookup}`).toEqual(expected);
          expect(new Set(idsOf(found)).size, `lookup ${lookup.lookup}: each document once`).toBe(found.length);
        }
      });

      it('by _id too; Int64 values read back as bigint even through a client without useBigInt64', async () => {
        const ids = all.slice(0, 30).map((doc) => doc._id as unknown);
        const plain = new MongoClient(uri, { serverSelectionTimeoutMS: 30_000 });
        try {
          const collection = plain.db(db.databaseName).collection('f');
          for (const lookup of LOOKUPS) {
            const found: Document[] = [];
            for await (const doc of findWhereIn(collection, '_id', ids, lookup)) found.push(doc);
            expect(idsOf(found), `lookup ${lookup.lookup}`).toEqual(idsOf(all.slice(0, 30)));
            expect(found.every((doc) => typeof doc.sequence === 'bigint'), `lookup ${lookup.lookup}`).toBe(true);
          }
        } finally {
          await plain.close();
        }
      });
    });

    describe('counts', () => {
      it('countDocuments is exact; collStats.count is exact where the profile says so', async () => {
        const { db } = await fresh('counts');
        const collection = db.collection('c');
        for (let k = 0; k < 5; k++) await collection.insertMany(Array.from({ length: 500 }, (_, i) => ({ k, i })));
        await collection.deleteMany({ k: 0, i: { $lt: 200 } });
        expect(await collection.countDocuments({})).toBe(2300);
        expect(await collection.countDocuments({ k: 0 })).toBe(300);
        expect(await collection.countDocuments({ k: { $in: [1, 2] }, i: { $gte: 450 } })).toBe(100);
        const stats = await db.command({ collStats: 'c' });
        expect(typeof stats.count).toBe('number');
        // Elsewhere collStats may be an estimate (FerretDB/PostgreSQL: planner statistics); nothing relies on it there.
        if (profile.reads.exactCollStatsCount) expect(stats.count).toBe(2300);
      });
    });

    describe('the lease (LedgerStore.acquireLease / renewLease / releaseLease)', () => {
      type LeaseFields = Omit<LedgerLease, '_id' | 'kind'>;
      const leaseOf = (sessionId: string, host: string, now: Date, partition = '1/1', pid = process.pid): LeaseFields => ({
        partition,
        sessionId,
        host,
        pid,
        acquiredAt: now,
        expiresAt: new Date(now.getTime() + 60_000),
      });

      it('of two importers racing for a free lease exactly one wins; the other gets LEASE_HELD naming the winner', async () => {
        const t1 = await fresh('lease_race');
        // The other importer: its own client (own connections), as another process would have.
        const other = new MongoClient(t1.uri, { useBigInt64: true, serverSelectionTimeoutMS: 30_000 });
        await other.connect();
        try {
          // Rounds 0-3: the ledger collection does not exist yet (the first imports into a database); then it does.
          for (let round = 0; round < 10; round++) {
            const collection = round < 4 ? `${LEDGER}_${round}` : LEDGER;
            const partition = `${round + 1}/10`;
            const first = new LedgerStore(t1.db, collection, updateCommands(profile.writes));
            const second = new LedgerStore(other.db(t1.dbName), collection, updateCommands(profile.writes));
            const now = new Date();
            const results = await Promise.allSettled([
              first.acquireLease(leaseOf('session-a', 'host-a', now, partition), now),
              second.acquireLease(leaseOf('session-b', 'host-b', now, partition), now),
            ]);
            expect(results.filter((result) => result.status === 'fulfilled').length, `round ${round}: one winner`).toBe(1);
            const winner = results[0]?.status === 'fulfilled' ? 'session-a' : 'session-b';
            const loser = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
            expect(loser?.reason).toBeInstanceOf(BackfillRuntimeError);
            expect((loser?.reason as BackfillRuntimeError).code).toBe('LEASE_HELD');
            expect((loser?.reason as Error).message).toContain(`(session ${winner})`);
            const held = (await first.leases()).filter((lease) => lease.partition === partition);
            expect(held.map((lease) => lease.sessionId)).toEqual([winner]);
          }
        } finally {
          await other.close();
        }
      });

      it("an expired lease is taken over; the old holder's renewal is refused and its release leaves the new lease alone", async () => {
        const { db } = await fresh('lease_expiry');
        const ledger = new LedgerStore(db, LEDGER, updateCommands(profile.writes));
        const start = new Date();
        const old = leaseOf('session-old', 'host-a', start);
        await ledger.acquireLease(old, start);
        // Before the expiry another host is refused...
        const early = await failureOf(ledger.acquireLease(leaseOf('session-new', 'host-b', start), new Date(old.expiresAt.getTime() - 1)));
        expect((early as BackfillRuntimeError).code).toBe('LEASE_HELD');
        // ...after it, it takes the lease over.
        const later = new Date(old.expiresAt.getTime() + 1);
        await ledger.acquireLease(leaseOf('session-new', 'host-b', later), later);
        expect(await ledger.renewLease('1/1', 'session-old', new Date(later.getTime() + 60_000))).toBe(false);
        await ledger.releaseLease('1/1', 'session-old');
        expect((await ledger.leases()).map((lease) => lease.sessionId)).toEqual(['session-new']);
        // The new holder renews (the same call again too) and releases; then the partition is free.
        const renewed = new Date(later.getTime() + 120_000);
        expect(await ledger.renewLease('1/1', 'session-new', renewed)).toBe(true);
        expect(await ledger.renewLease('1/1', 'session-new', renewed)).toBe(true);
        expect((await ledger.leases())[0]?.expiresAt.getTime()).toBe(renewed.getTime());
        await ledger.releaseLease('1/1', 'session-new');
        expect(await ledger.leases()).toEqual([]);
        await ledger.acquireLease(leaseOf('session-third', 'host-c', later), later);
        expect((await ledger.leases()).map((lease) => lease.sessionId)).toEqual(['session-third']);
      });

      it('a live holder re-acquires its own lease; a holder on this host whose process is gone is taken over at once', async () => {
        const { db } = await fresh('lease_dead_holder');
        const ledger = new LedgerStore(db, LEDGER, updateCommands(profile.writes));
        const now = new Date();
        await ledger.acquireLease(leaseOf('session-live', hostname(), now), now);
        await ledger.acquireLease(leaseOf('session-live', hostname(), now), now); // its own: no LEASE_HELD
        expect((await failureOf(ledger.acquireLease(leaseOf('session-next', hostname(), now), now)) as BackfillRuntimeError).code).toBe('LEASE_HELD');
        await ledger.releaseLease('1/1', 'session-live');

        const deadPid = await pidOfExitedProcess();
        await ledger.acquireLease(leaseOf('session-dead', hostname(), now, '1/1', deadPid), now);
        await ledger.acquireLease(leaseOf('session-next', hostname(), now), now);
        expect((await ledger.leases()).map((lease) => lease.sessionId)).toEqual(['session-next']);
      });
    });

    describe('retries', () => {
      it('answers are not retried: a duplicate key or a refused document fails at the first attempt', async () => {
        const { db } = await fresh('no_retry');
        const collection = db.collection<Document>('x');
        await collection.insertOne({ _id: 1 } as Document);
        for (const [what, write] of [
          ['duplicate key', () => collection.insertOne({ _id: 1 } as Document)],
          ['array _id', () => collection.insertOne({ _id: [1, 2] } as unknown as Document)],
        ] as const) {
          let attempts = 0;
          const retried: unknown[] = [];
          const error = await failureOf(withRetries(() => (attempts++, write()), QUICK_RETRY, (e) => retried.push(e)));
          expect(attempts, what).toBe(1);
          expect(retried, what).toEqual([]);
          expect(isTransientError(error), what).toBe(false);
          expect(error).not.toBeInstanceOf(BackfillRuntimeError);
        }
      });
    });

    describe('update commands stay within the profile\'s limits', () => {
      it('updateStatementsPerCommand statements in each of updateCommandsInFlight concurrent commands answer', async () => {
        const { db } = await fresh('update_limits');
        const { updateStatementsPerCommand: size, updateCommandsInFlight: commands } = profile.writes;
        await db.collection('u').insertMany(Array.from({ length: size * commands }, (_, i) => ({ _id: i, v: 0 })) as Document[]);
        const replies = await answersWithin(
          Promise.all(
            Array.from({ length: commands }, (_, k) =>
              db.command({ update: 'u', updates: Array.from({ length: size }, (_, i) => ({ q: { _id: k * size + i }, u: { $set: { v: 1 } } })), ordered: true }),
            ),
          ),
          60_000,
          `${commands} concurrent update commands of ${size} statements (the profile's limits are too high for this server)`,
        );
        expect(replies.reduce((sum, reply) => sum + Number(reply.nModified), 0)).toBe(size * commands);
      });

      it("the tool's replacements from three batches at once: no command over the statement limit, no more in flight than allowed, every record counted", async () => {
        const monitored = await target.open('contract_update_gate', { monitorCommands: true });
        const { updateStatementsPerCommand: size, updateCommandsInFlight: allowed } = profile.writes;
        let inFlight = 0;
        let mostInFlight = 0;
        let mostStatements = 0;
        let commands = 0;
        const mine = (event: { databaseName: string; commandName: string }) => event.databaseName === monitored.dbName && event.commandName === 'update';
        monitored.client.on('commandStarted', (event: CommandStartedEvent) => {
          if (!mine(event)) return;
          commands++;
          inFlight++;
          mostInFlight = Math.max(mostInFlight, inFlight);
          mostStatements = Math.max(mostStatements, (event.command.updates as unknown[]).length);
        });
        const ended = (event: { databaseName: string; commandName: string }) => void (mine(event) && inFlight--);
        monitored.client.on('commandSucceeded', ended);
        monitored.client.on('commandFailed', ended);

        const runs = monitored.db.collection<Document>(RUNS);
        const older = new Date('2025-01-01T00:00:00Z');
        const newer = new Date('2025-02-01T00:00:00Z');
        const perBatch = 2 * size + 3;
        const batches = [0, 1, 2].map((b) => Array.from({ length: perBatch }, (_, i) => `batch-${b}-run-${i}`));
        await runs.insertMany(batches.flat().map((id) => ({ _id: id, updatedAt: older, v: 0 })) as Document[]);
        const updates = updateCommands(profile.writes); // one per process, shared by all its writers
        const tallies = batches.map(() => new ImportTally());
        await Promise.all(
          batches.map((ids, b) =>
            upsertVersionedBatch(runs, RUNS_SPEC, ids.map((id) => ({ doc: { _id: id, updatedAt: newer, v: 1 }, origin: { file: `state/runs/${id}.json` } })), tallies[b] as ImportTally, false, {
              updates,
              reads: profile.reads,
            }),
          ),
        );
        expect(tallies.map((tally) => tally.total('updated'))).toEqual([perBatch, perBatch, perBatch]);
        expect(await runs.countDocuments({ v: 1 })).toBe(3 * perBatch);
        expect(commands).toBeGreaterThanOrEqual(3 * Math.ceil(perBatch / size));
        expect(mostStatements).toBeLessThanOrEqual(size);
        expect(mostInFlight).toBeLessThanOrEqual(allowed);
      });
    });

    describeRestarts(target);
  });
}

/** Small bounds for checks that must not wait long. */
const QUICK_RETRY: RetryPolicy = { attempts: 3, initialDelayMs: 50, maxDelayMs: 100 };
/** Long enough for a FerretDB (and its PostgreSQL) to start again: about 20 s of waiting plus the attempts. */
const RESTART_RETRY: RetryPolicy = { attempts: 40, initialDelayMs: 100, maxDelayMs: 500 };

/** The id of a process that ran and is gone (for a lease holder "killed with -9" on this host). */
async function pidOfExitedProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start a child process');
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

/**
 * Retries across a server restart and a lost answer. The server under test is never stopped (it may
 * be an operator's MONGODB_URI, or the global setup's, shared with other test files): this part
 * starts a FerretDB of its own on the run's backend (so it needs Go, even on a MONGODB_URI run) and
 * stops, kills and cuts off that one.
 */
function describeRestarts(target: ContractTarget): void {
  describe(`retries across outages (a FerretDB on ${target.restartBackend} that this suite starts, stops and cuts off itself)`, () => {
    let server: FerretDbHandle | undefined;
    let port: number;
    let dataDir: string;
    let client: MongoClient;
    let reads: ReadStrategy;

    beforeAll(async () => {
      port = await getFreePort();
      dataDir = await mkdtemp(path.join(tmpdir(), 'backfill-contract-ferretdb-'));
      server = await startFerretDb({ port, dataDir, backend: target.restartBackend });
      // As the CLI connects (useBigInt64), with a short server selection so an outage fails fast.
      client = new MongoClient(server.uri, { useBigInt64: true, serverSelectionTimeoutMS: 1_000, monitorCommands: true });
      await client.connect();
      reads = (await profileIn(client.db('contract_restart_probe'))).reads;
    }, 180_000);

    afterAll(async () => {
      await client?.close().catch(() => undefined);
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }, 60_000);

    /** Stops the server (kill -9 first when `crash`) keeping its data, then starts it again on the same port after `downMs`. */
    async function restart(crash: boolean, downMs: number): Promise<void> {
      const down = server;
      if (!down?.pid) throw new Error('no server to restart');
      if (crash) process.kill(down.pid, 'SIGKILL');
      await down.stop({ keepData: true });
      await sleep(downMs);
      server = await startFerretDb({ port, dataDir, backend: target.restartBackend });
      expect(server.uri).toBe(down.uri);
    }

    /** One write step as the import's sink retries it: insert the batch, compare what was already there. */
    function logStep(db: Db, batch: readonly PendingRecord<LogDocument>[]): () => Promise<ImportTally> {
      return async () => {
        const scratch = new ImportTally();
        const logs = db.collection<Document>(LOGS);
        const existing = await insertLogBatch(logs, batch, scratch);
        if (existing.length > 0) await classifyExistingLogs(logs, existing, scratch, reads);
        return scratch;
      };
    }

    /** The same records written once, plainly, into `name`: what the retried writes must equal. */
    async function reference(name: string, records: readonly PendingRecord<LogDocument>[]): Promise<Buffer> {
      const db = client.db(name);
      await logsCollection(db);
      await db.collection<Document>(LOGS).insertMany(records.map((record) => record.doc));
      return (await dumpCollection(db, 'logs', LOGS)).bson;
    }

    it('withRetries carries a batch across a stop and start of the server: every entry stored once, as a clean write', async () => {
      const records = logRecords(['run-1', 'run-2', 'run-3', 'run-4'], 50);
      const expected = await reference('restart_between_ref', records);
      const db = client.db('restart_between');
      await logsCollection(db);
      const [first, second] = [records.slice(0, 100), records.slice(100)];
      expect((await withRetries(logStep(db, first), RESTART_RETRY, () => undefined)).total('inserted')).toBe(100);

      const down = server;
      await down?.stop({ keepData: true });
      const restarting = (async () => {
        await sleep(1_500);
        server = await startFerretDb({ port, dataDir, backend: target.restartBackend });
      })();
      const retried: unknown[] = [];
      const tally = await withRetries(logStep(db, second), RESTART_RETRY, (error) => retried.push(error));
      await restarting;

      expect(retried.length, 'the step met the outage and was retried').toBeGreaterThan(0);
      for (const error of retried) expect(isTransientError(error), String(error)).toBe(true);
      expect(tally.total('inserted') + tally.total('unchanged')).toBe(second.length);
      expect(tally.total('conflict') + tally.total('rejected')).toBe(0);
      expect(await db.collection(LOGS).countDocuments({})).toBe(records.length);
      expect((await dumpCollection(db, 'logs', LOGS)).bson.equals(expected)).toBe(true);
    });

    it('a server killed during a batch: the retried batch meets what landed as duplicates (unchanged), and each entry is stored once', async () => {
      const records = logRecords(Array.from({ length: 20 }, (_, i) => `run-${i}`), 200); // one insert command of 4,000 entries
      const expected = await reference('restart_during_ref', records);
      const db = client.db('restart_during');
      await logsCollection(db);
      let killing: Promise<void> | undefined;
      const onStarted = (event: CommandStartedEvent): void => {
        if (killing || event.commandName !== 'insert' || event.databaseName !== db.databaseName) return;
        // Kill -9 while the server works through the batch, then start it again.
        killing = sleep(50).then(() => restart(true, 500));
      };
      client.on('commandStarted', onStarted);
      const retried: unknown[] = [];
      let tally: ImportTally;
      try {
        tally = await withRetries(logStep(db, records), RESTART_RETRY, (error) => retried.push(error));
        await killing;
      } finally {
        client.off('commandStarted', onStarted);
      }

      expect(killing, 'the server was killed during the batch').toBeDefined();
      expect(retried.length, 'the batch failed and was retried').toBeGreaterThan(0);
      expect(tally.total('inserted') + tally.total('unchanged')).toBe(records.length);
      expect(tally.total('conflict') + tally.total('rejected')).toBe(0);
      process.stderr.write(`[contract] killed during a batch: ${tally.total('unchanged')} of ${records.length} entries had landed before the kill\n`);
      expect(await db.collection(LOGS).countDocuments({})).toBe(records.length);
      expect((await dumpCollection(db, 'logs', LOGS)).bson.equals(expected)).toBe(true);
    });

    it('the answer to a batch is lost (the connection is cut after the server wrote it): the retried batch finds every entry as a duplicate, all unchanged', async () => {
      const records = logRecords(['run-1', 'run-2', 'run-3'], 100);
      const expected = await reference('answer_lost_ref', records);
      const proxy = await lossyProxy(port);
      const viaProxy = new MongoClient(proxy.uri, { useBigInt64: true, serverSelectionTimeoutMS: 1_000, monitorCommands: true });
      try {
        await viaProxy.connect();
        const db = viaProxy.db('answer_lost');
        await logsCollection(db);
        let armed = false;
        viaProxy.on('commandStarted', (event: CommandStartedEvent) => {
          if (armed || event.commandName !== 'insert' || event.databaseName !== db.databaseName) return;
          armed = true;
          proxy.dropReplyTo(event.requestId);
        });
        const retried: unknown[] = [];
        const tally = await withRetries(logStep(db, records), RESTART_RETRY, (error) => retried.push(error));

        expect(proxy.dropped(), 'the insert\'s answer was dropped').toBe(1);
        expect(retried.length).toBe(1);
        expect(isTransientError(retried[0]), String(retried[0])).toBe(true);
        // Every entry landed with the lost answer: the retry inserts none and finds each one the same.
        expect(tally.total('inserted')).toBe(0);
        expect(tally.total('unchanged')).toBe(records.length);
        expect(tally.total('conflict') + tally.total('rejected')).toBe(0);
        expect(await db.collection(LOGS).countDocuments({})).toBe(records.length);
        expect((await dumpCollection(db, 'logs', LOGS)).bson.equals(expected)).toBe(true);
      } finally {
        await viaProxy.close().catch(() => undefined);
        await proxy.close();
      }
    });

    it('a server that stays down: DB_UNAVAILABLE after exactly policy.attempts attempts, saying how to resume', async () => {
      const db = client.db('restart_never');
      await logsCollection(db);
      await server?.stop({ keepData: true });
      let attempts = 0;
      const step = logStep(db, logRecords(['run-1'], 10));
      const error = await failureOf(withRetries(() => (attempts++, step()), QUICK_RETRY, () => undefined));
      expect(error).toBeInstanceOf(BackfillRuntimeError);
      expect((error as BackfillRuntimeError).code).toBe('DB_UNAVAILABLE');
      expect((error as Error).message).toContain(`after ${QUICK_RETRY.attempts} attempts`);
      expect((error as Error).message).toMatch(/run the same command again to resume/);
      expect(attempts).toBe(QUICK_RETRY.attempts);
      expect(isTransientError((error as Error).cause)).toBe(true);
    });
  });
}
