/**
 * Several importers at once, end to end: the lease per partition (held, refused with the holder
 * named, expired and taken over), two imports of the same tree racing, and `--partition K/N`
 * runs that together equal one clean import and never overlap.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { LedgerLease } from '../../src/ledger/ledger-types.js';
import { testDatabases, type TestDb } from '../helpers/test-db.js';
import { makeSyntheticTree, type SyntheticTree } from '../helpers/synthetic-tree.js';
import {
  LEDGER,
  countsOf,
  freezeAt,
  importArgs,
  killLeftovers,
  ledgerFiles,
  parseReport,
  runCli,
  startCli,
  stateOf,
  statusJson,
  totalRecords,
  waitForLeaseExpiry,
  type CliResult,
  SHAPE,
  FILES,
} from './cli-resume-support.js';


let tree: SyntheticTree;
let referenceState: string;
const databases = testDatabases();
const freshDb = (prefix: string): Promise<TestDb> => databases.open(prefix);

beforeAll(async () => {
  tree = await makeSyntheticTree(SHAPE);
  const reference = await freshDb('lease_ref');
  const result = await runCli(importArgs(tree.root, reference.uri, reference.dbName, ['--no-ledger']));
  expect(result.code, result.stderr).toBe(0);
  expect(await countsOf(reference.db)).toEqual(tree.expected);
  referenceState = await stateOf(reference.db);
}, 60_000);

afterEach(() => killLeftovers());

afterAll(async () => {
  killLeftovers();
  await databases.dropAll();
  await tree?.remove();
}, 60_000);

function expectLeaseHeldBy(result: CliResult, holder: { host: string; pid: number; sessionId?: string }, partition = '1/1'): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('[LEASE_HELD]');
  expect(result.stderr).toContain(`another import of partition ${partition} into this database is running`);
  expect(result.stderr).toContain(`${holder.host} pid ${holder.pid}`);
  if (holder.sessionId) expect(result.stderr).toContain(`(session ${holder.sessionId})`);
}

async function leaseDoc(t: TestDb, partition = '1/1'): Promise<LedgerLease | null> {
  return (await t.db.collection(LEDGER).findOne({ _id: `lease:${partition}` as never })) as unknown as LedgerLease | null;
}

describe('the import lease', () => {
  test('a running import holds it: a second import of the same partition fails naming the holder, the holder completes', async () => {
    const t = await freshDb('lease_held');
    // A long lease, so the holder can be frozen while the second import tries without it expiring.
    const holder = startCli(importArgs(tree.root, t.uri, t.dbName, ['--lease-ttl-seconds', '60']));
    let lease: LedgerLease | null = null;
    while (!lease && !holder.exited()) {
      lease = await leaseDoc(t);
      if (!lease) await sleep(5);
    }
    expect(lease, 'the first import never took the lease').not.toBeNull();
    process.kill(holder.pid, 'SIGSTOP');
    try {
      const second = await runCli(importArgs(tree.root, t.uri, t.dbName));
      expectLeaseHeldBy(second, { host: hostname(), pid: holder.pid, sessionId: lease?.sessionId });
    } finally {
      process.kill(holder.pid, 'SIGCONT');
    }
    const first = await holder.result;
    expect(first.code, first.stderr).toBe(0);
    expect(await stateOf(t.db)).toBe(referenceState);
    expect(await leaseDoc(t), 'released at the end').toBeNull();
  }, 60_000);

  test('a holder stopped past its lease lifetime and replaced writes nothing more when resumed: exit 4, LEASE_LOST', async () => {
    const t = await freshDb('lease_lost');
    const holder = startCli(importArgs(tree.root, t.uri, t.dbName, ['--lease-ttl-seconds', '5']));
    const stop = await freezeAt(holder, t.db, 1_000);
    expect(stop.interrupted, 'the import finished before it could be frozen').toBe(true);
    // Past its lifetime another importer takes the lease over (as acquireLease does for an expired lease).
    const stale = await waitForLeaseExpiry(t.db);
    expect(stale.map((lease) => lease.pid)).toEqual([holder.pid]);
    const taken = await t.db.collection(LEDGER).updateOne(
      { _id: 'lease:1/1' as never, expiresAt: { $lt: new Date() } },
      { $set: { sessionId: 'the-new-holder', host: 'another-host', pid: 1, acquiredAt: new Date(), expiresAt: new Date(Date.now() + 600_000) } },
    );
    expect(taken.modifiedCount).toBe(1);
    // Batches the holder sent before it was frozen may still land: wait until the counts stand still.
    let before = await countsOf(t.db);
    for (let settled = 0; settled < 3; ) {
      await sleep(400);
      const now = await countsOf(t.db);
      settled = JSON.stringify(now) === JSON.stringify(before) ? settled + 1 : 0;
      before = now;
    }
    process.kill(holder.pid, 'SIGCONT');
    const result = await holder.result;
    expect(result.code, result.stderr).toBe(4);
    expect(result.stderr).toContain('[LEASE_LOST]');
    expect(result.stderr).toContain('run the same command again');
    // A batch that had passed its lease check when the process was stopped goes out on waking
    // (the check cannot be atomic with the send): at most --concurrency batches of --batch-size
    // entries (2 x 50 here, importArgs). No batch after those: the next check finds the lease lost.
    const after = await countsOf(t.db);
    expect({ ...after, logs: 0 }, 'only log batches were in flight').toEqual({ ...before, logs: 0 });
    expect(after.logs - before.logs, 'at most the batches in flight when it was stopped land').toBeLessThanOrEqual(2 * 50);
    await sleep(1_000);
    expect(await countsOf(t.db), 'nothing lands after the holder exited').toEqual(after);
    expect((await leaseDoc(t))?.sessionId, 'the new holder keeps its lease').toBe('the-new-holder');

    // Once the new holder is gone, the same command finishes the job.
    await t.db.collection(LEDGER).deleteOne({ _id: 'lease:1/1' as never });
    const rerun = await runCli(importArgs(tree.root, t.uri, t.dbName));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await stateOf(t.db)).toBe(referenceState);
  }, 90_000);

  test('--lease-ttl-seconds must be one positive number (NaN would write a lease expired from the start)', async () => {
    const t = await freshDb('lease_ttl');
    for (const bad of [['abc'], ['5', '--lease-ttl-seconds', '60'], ['-3']]) {
      const result = await runCli(importArgs(tree.root, t.uri, t.dbName, ['--lease-ttl-seconds', ...bad]));
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('--lease-ttl-seconds must be one whole number from 5 to 86,400 seconds');
    }
    expect(await t.db.collection(LEDGER).countDocuments({})).toBe(0);
  }, 30_000);

  test('a live lease of another host blocks; once its short lifetime is over it is taken over', async () => {
    const t = await freshDb('lease_stale');
    // What another machine's importer leaves behind when it dies. Its lease is given a long life
    // first so the blocked attempt cannot outlive it on a loaded machine, then shortened to what
    // --lease-ttl-seconds 5 would have left.
    const ghost = { _id: 'lease:1/1', kind: 'lease', partition: '1/1', sessionId: 'ghost-session', host: 'ghost-host', pid: 424242 };
    await t.db.collection(LEDGER).insertOne({ ...ghost, acquiredAt: new Date(), expiresAt: new Date(Date.now() + 600_000) } as never);

    const blocked = await runCli(importArgs(tree.root, t.uri, t.dbName));
    expectLeaseHeldBy(blocked, ghost);
    expect(blocked.stderr).toMatch(/lease expires by itself, then run the same command again/);
    expect(await countsOf(t.db), 'nothing written without the lease').toEqual({ runs: 0, logs: 0, approvals: 0, artifacts: 0 });
    await t.db.collection(LEDGER).updateOne({ _id: 'lease:1/1' as never }, { $set: { expiresAt: new Date(Date.now() + 2_000) } });

    const stale = await waitForLeaseExpiry(t.db);
    expect(stale.map((lease) => lease.host)).toEqual(['ghost-host']);
    const taken = await runCli(importArgs(tree.root, t.uri, t.dbName));
    expect(taken.code, taken.stderr).toBe(0);
    expect(parseReport(taken).totals.inserted).toBe(totalRecords(tree.expected));
    expect(await stateOf(t.db)).toBe(referenceState);
    expect(await leaseDoc(t), 'released at the end').toBeNull();
    expect((await statusJson(t.uri, t.dbName)).sessions[0]?.outcome).toBe('complete');
  }, 60_000);

  test('two imports of the same tree started together: one is refused (or both finish), a re-run equals one clean import', async () => {
    const t = await freshDb('lease_race');
    const args = importArgs(tree.root, t.uri, t.dbName);
    const a = startCli(args);
    const b = startCli(args);
    const results = await Promise.all([a.result, b.result]);
    const outcomes = results.map((result) => result.code);
    console.log(`concurrent imports exited ${outcomes.join(' and ')}`);
    expect(outcomes.filter((code) => code === 0).length).toBeGreaterThanOrEqual(1);
    for (const [index, result] of results.entries()) {
      if (result.code === 0) continue;
      const other = index === 0 ? b : a;
      expectLeaseHeldBy(result, { host: hostname(), pid: other.pid });
    }
    if (outcomes.every((code) => code === 0)) {
      // They ran one after the other: together they inserted each record once.
      const inserted = results.reduce((sum, result) => sum + parseReport(result).totals.inserted, 0);
      expect(inserted).toBe(totalRecords(tree.expected));
    }
    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(parseReport(again).totals).toMatchObject({ inserted: 0, updated: 0, conflict: 0, rejected: 0 });
    expect(await stateOf(t.db)).toBe(referenceState);
  }, 60_000);
});

describe('--partition K/N', () => {
  test('partitions 1/3, 2/3 and 3/3 run side by side equal one clean import and never overlap', async () => {
    const t = await freshDb('partitions');
    const parts = ['1/3', '2/3', '3/3'];
    const results = await Promise.all(parts.map((part) => runCli(importArgs(tree.root, t.uri, t.dbName, ['--partition', part]))));
    const reports = results.map((result) => {
      expect(result.code, result.stderr).toBe(0);
      return parseReport(result);
    });
    console.log(`records inserted per partition: ${reports.map((report, i) => `${parts[i]}=${report.totals.inserted}`).join(', ')}`);
    for (const report of reports) {
      expect(report.complete).toBe(true);
      expect(report.totals.inserted).toBeGreaterThan(0);
      // Never overlapping: no partition met a record another one wrote.
      expect(report.totals).toMatchObject({ updated: 0, unchanged: 0, conflict: 0, rejected: 0 });
    }
    const inserted = reports.reduce((sum, report) => sum + report.totals.inserted, 0);
    expect(inserted).toBe(totalRecords(tree.expected));
    expect(await stateOf(t.db)).toBe(referenceState);

    // The ledger: each file done in exactly one partition, every file in some partition.
    const entries = await ledgerFiles(t.db);
    const owners = new Map<string, string[]>();
    for (const entry of entries) owners.set(entry.path, [...(owners.get(entry.path) ?? []), entry.partition]);
    expect(owners.size).toBe(FILES);
    expect([...owners.values()].filter((list) => list.length !== 1)).toEqual([]);
    expect(new Set(entries.map((entry) => entry.partition))).toEqual(new Set(parts));
    const status = await statusJson(t.uri, t.dbName);
    expect(status.sessions.map((session) => session.outcome)).toEqual(['complete', 'complete', 'complete']);

    // A partition run again has nothing to do: its own files are skipped as done and unchanged.
    const again = parseReport(await runCli(importArgs(tree.root, t.uri, t.dbName, ['--partition', '2/3'])));
    expect(again.totals).toMatchObject({ inserted: 0, updated: 0, unchanged: 0, conflict: 0, rejected: 0 });
    expect(again.files.skippedUnchanged).toBe(entries.filter((entry) => entry.partition === '2/3').length);
  }, 60_000);
});
