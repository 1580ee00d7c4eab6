/**
 * Proves the provisioned server works over the wire (real driver, real server, no mocks).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Long, MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openTestDb, type TestDb } from '../helpers/test-db.js';
import { backendFromEnv, findPostgresBinDir, processGone, removeStaleTempDirs, startFerretDb } from '../helpers/test-server.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

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
    const backend = inject('serverBackend');
    if (kind === 'ferretdb') expect(backend).toBe(backendFromEnv() ?? 'sqlite');
    else expect(backend).toBe('');
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

describe('FerretDB on PostgreSQL (own servers)', () => {
  it('keeps the data across a restart on the same port and data folder, and removes everything on stop', async () => {
    const a = await startFerretDb({ backend: 'postgresql' });
    const pgPid = a.postgres?.pid;
    expect(a.backend).toBe('postgresql');
    expect(a.description).toMatch(/PostgreSQL 1\d/);
    expect(pgPid).toBeGreaterThan(0);
    let c = new MongoClient(a.uri, { useBigInt64: true });
    try {
      await c.db('restart_on_pg').collection('k').insertOne({ _id: 1 as never, n: 42n });
    } finally {
      await c.close();
    }
    await a.stop({ keepData: true });
    expect(processGone(pgPid ?? 0)).toBe(true);

    const b = await startFerretDb({ backend: 'postgresql', port: a.port, dataDir: a.dataDir });
    try {
      expect(b.uri).toBe(a.uri);
      c = new MongoClient(b.uri, { useBigInt64: true });
      try {
        expect((await c.db('restart_on_pg').collection('k').findOne({}))?.n).toBe(42n);
      } finally {
        await c.close();
      }
    } finally {
      await b.stop();
    }
    expect(processGone(b.postgres?.pid ?? 0)).toBe(true);
    expect(processGone(b.pid ?? 0)).toBe(true);
    expect(existsSync(a.dataDir)).toBe(false);
  });

  it('a parent killed with -9 leaves no FerretDB or postgres running, and its folder is swept later', async () => {
    // A separate Node process (the compiled helper) starts the servers and is then killed hard.
    const script = `
      const { startFerretDb } = await import(${JSON.stringify(path.join(REPO, 'dist/test/helpers/test-server.js'))});
      const f = await startFerretDb({ backend: 'postgresql', log: () => {} });
      process.stdout.write(JSON.stringify({ pid: f.pid, pgPid: f.postgres.pid, dataDir: f.dataDir }) + '\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const started = Date.now();
    while (!out.includes('\n') && child.exitCode === null && Date.now() - started < 120_000) await sleep(100);
    if (!out.includes('\n')) {
      child.kill('SIGKILL');
      throw new Error(`the helper process did not start its servers (exit ${child.exitCode}): ${err}`);
    }
    const info = JSON.parse(out) as { pid: number; pgPid: number; dataDir: string };
    expect(processGone(info.pid)).toBe(false);
    expect(processGone(info.pgPid)).toBe(false);
    child.kill('SIGKILL');

    const deadline = Date.now() + 30_000;
    while ((!processGone(info.pid) || !processGone(info.pgPid)) && Date.now() < deadline) await sleep(100);
    expect(processGone(info.pid), 'FerretDB outlived its killed parent').toBe(true);
    expect(processGone(info.pgPid), 'postgres outlived its killed parent').toBe(true);

    expect(existsSync(info.dataDir)).toBe(true);
    expect(await removeStaleTempDirs(() => undefined)).toContain(info.dataDir);
    expect(existsSync(info.dataDir)).toBe(false);
  });

  it('says which package to install when the PostgreSQL binaries are missing', async () => {
    const saved = process.env.PG_BIN;
    process.env.PG_BIN = path.join(REPO, 'no-such-postgresql-bin');
    try {
      await expect(findPostgresBinDir()).rejects.toThrow(/Debian's `postgresql` package/);
      await expect(startFerretDb({ backend: 'postgresql' })).rejects.toThrow(/apt-get install postgresql/);
    } finally {
      if (saved === undefined) delete process.env.PG_BIN;
      else process.env.PG_BIN = saved;
    }
  });
});
