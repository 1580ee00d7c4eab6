/**
 * Proves the provisioned server works over the wire (real driver, real server, no mocks).
 */
import { Long, MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openTestDb, type TestDb } from '../helpers/test-db.js';
import { startFerretDb } from '../helpers/test-server.js';

declare module 'vitest' {
  interface TaskMeta {
    serverKind?: string;
    serverVersion?: string;
  }
}

describe('test server over the wire', () => {
  let t: TestDb;

  beforeAll(async () => {
    t = await openTestDb('test_server', { useBigInt64: true });
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('records which server the run uses', async ({ task }) => {
    const kind = inject('serverKind');
    expect(['env', 'mongodb-memory-server', 'ferretdb']).toContain(kind);
    const info = await t.client.db('admin').command({ buildInfo: 1 });
    if (kind === 'ferretdb') expect(info).toHaveProperty('ferretdbVersion');
    if (kind === 'mongodb-memory-server') expect(info).not.toHaveProperty('ferretdbVersion');
    task.meta.serverKind = kind;
    task.meta.serverVersion = 'ferretdbVersion' in info ? `ferretdb ${String(info.ferretdbVersion)}` : String(info.version);
    expect(t.dbName).toMatch(/^[a-z0-9_]{1,38}$/);
    expect(t.uri).toContain(`/${t.dbName}`);
  });

  it('round-trips an Int64 (useBigInt64) and a Date', async () => {
    const coll = t.db.collection<{ _id: string; big: bigint; small: bigint; at: Date }>('roundtrip');
    const big = 9_007_199_254_740_993n; // 2^53 + 1: not representable as a JS number
    const at = new Date('2024-02-29T12:34:56.789Z');
    await coll.insertOne({ _id: 'a', big, small: -5n, at });

    const back = await coll.findOne({ _id: 'a' });
    expect(back).not.toBeNull();
    expect(typeof back?.big).toBe('bigint');
    expect(back?.big).toBe(big);
    expect(back?.small).toBe(-5n);
    expect(back?.at).toBeInstanceOf(Date);
    expect(back?.at.toISOString()).toBe(at.toISOString());

    // Stored as BSON long / date, not as double / string.
    expect(await coll.countDocuments({ big: { $type: 'long' }, at: { $type: 'date' } })).toBe(1);
    expect(await coll.countDocuments({ big: Long.fromBigInt(big) })).toBe(1);
    expect(await coll.countDocuments({ big: big - 1n })).toBe(0);
  });

  it('enforces a unique compound index with code 11000', async () => {
    const coll = t.db.collection('uniq');
    await coll.createIndex({ tenant: 1, runId: 1 }, { unique: true, name: 'tenant_runId_unique' });
    await coll.insertOne({ tenant: 't1', runId: 'r1' });
    await coll.insertOne({ tenant: 't1', runId: 'r2' });
    await coll.insertOne({ tenant: 't2', runId: 'r1' });

    const err = await coll.insertOne({ tenant: 't1', runId: 'r1' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(11000);
    expect(await coll.countDocuments({})).toBe(3);
  });
});

// Runs whatever server the suite uses: like the restart tests, it starts FerretDB servers of its own.
describe('FerretDB handles (own servers, stopped and restarted)', () => {
  it('starts concurrent servers and restarts one on the same port and data', async () => {
    const [a, b] = await Promise.all([startFerretDb(), startFerretDb()]);
    try {
      expect(a.port).not.toBe(b.port);
      for (const s of [a, b]) {
        const c = new MongoClient(s.uri);
        try {
          expect((await c.db('admin').command({ ping: 1 })).ok).toBe(1);
        } finally {
          await c.close();
        }
      }

      let c = new MongoClient(a.uri, { useBigInt64: true });
      await c.db('restart').collection('k').insertOne({ _id: 1 as never, n: 42n });
      await c.close();

      await a.stop({ keepData: true });
      const a2 = await startFerretDb({ port: a.port, dataDir: a.dataDir });
      try {
        expect(a2.uri).toBe(a.uri);
        c = new MongoClient(a2.uri, { useBigInt64: true });
        try {
          const doc = await c.db('restart').collection('k').findOne({});
          expect(doc?.n).toBe(42n);
        } finally {
          await c.close();
        }
      } finally {
        await a2.stop();
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
