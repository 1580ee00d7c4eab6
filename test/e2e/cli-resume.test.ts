/**
 * Resume, end to end: the built CLI is killed (-9) or stopped (SIGTERM) mid-import and run again
 * with the same command; the database must end exactly as after one clean import (full dumps,
 * `_id`s included). Also: an unchanged re-run writes nothing, a grown log resumes at its offset.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { testDatabases, type TestDb } from '../helpers/test-db.js';
import { makeSyntheticTree, type SyntheticTree } from '../helpers/synthetic-tree.js';
import {
  LEDGER,
  countsOf,
  importArgs,
  interruptAt,
  killLeftovers,
  lastSessionOutcome,
  ledgerFiles,
  parseReport,
  runCli,
  startCli,
  stateOf,
  statusJson,
  totalRecords,
  SHAPE,
  FILES,
} from './cli-resume-support.js';


let tree: SyntheticTree;
let referenceState: string;
const databases = testDatabases();
const freshDb = (prefix: string): Promise<TestDb> => databases.open(prefix);

/** A clean import with --no-ledger into a new database: the state every other run must reach. */
async function cleanImport(source: SyntheticTree, prefix: string): Promise<{ db: TestDb; state: string }> {
  const db = await freshDb(prefix);
  const result = await runCli(importArgs(source.root, db.uri, db.dbName, ['--no-ledger']));
  expect(result.code, result.stderr).toBe(0);
  expect(parseReport(result).totals.inserted).toBe(totalRecords(source.expected));
  expect(await countsOf(db.db)).toEqual(source.expected);
  expect(await db.db.collection(LEDGER).countDocuments({ kind: { $in: ['file', 'journal', 'digest', 'digest-part'] } }), '--no-ledger remembers no files').toBe(0);
  return { db, state: await stateOf(db.db) };
}

beforeAll(async () => {
  tree = await makeSyntheticTree(SHAPE);
  referenceState = (await cleanImport(tree, 'resume_ref')).state;
}, 60_000);

afterEach(() => killLeftovers());

afterAll(async () => {
  killLeftovers();
  await databases.dropAll();
  await tree?.remove();
}, 60_000);

describe('import after kill -9', () => {
  test('killed early, in the middle and during the last batches, the same command converges to a clean import', async () => {
    const t = await freshDb('resume_kill');
    const args = importArgs(tree.root, t.uri, t.dbName);
    const expectedLogs = tree.expected.logs;

    for (const fraction of [0.1, 0.5, 0.95]) {
      const threshold = Math.ceil(fraction * expectedLogs);
      const cli = startCli(args);
      const stop = await interruptAt(cli, t.db, threshold, 'SIGKILL');
      const killed = await cli.result;
      console.log(`kill -9 at >= ${fraction * 100}% of the logs: ${stop.logsAtStop}/${expectedLogs} stored when killed`);
      expect(stop.interrupted, `the import finished before reaching ${threshold} log entries was seen`).toBe(true);
      expect(killed.signal).toBe('SIGKILL');
      expect(stop.logsAtStop).toBeGreaterThanOrEqual(threshold);
      if (fraction < 0.9) expect(stop.logsAtStop).toBeLessThan(expectedLogs);

      // The killed session never recorded its end, and its lease outlives it.
      const status = await statusJson(t.uri, t.dbName);
      expect(status.sessions[0]?.outcome).toBe('running');
      expect(status.sessions[0]?.pid).toBe(cli.pid);
      expect(status.leases.map((lease) => lease.pid)).toEqual([cli.pid]);
      // The next run of the same command starts at once: a dead holder on this host is taken over
      // (a LEASE_HELD exit would end the next round with `interrupted: false`).
    }

    const final = await runCli(args);
    expect(final.code, final.stderr).toBe(0);
    const report = parseReport(final);
    expect(report.complete).toBe(true);
    expect(report.totals.rejected + report.totals.conflict).toBe(0);
    expect(await countsOf(t.db)).toEqual(tree.expected);
    expect(await stateOf(t.db)).toBe(referenceState);
    const status = await statusJson(t.uri, t.dbName);
    expect(status.sessions[0]?.outcome).toBe('complete');
    expect(status.leases).toEqual([]);
    // Every file is done in the ledger once the run completed.
    expect(status.files.reduce((sum, row) => sum + (row.status === 'done' ? row.files : 0), 0)).toBe(FILES);
  }, 90_000);
});

describe('import after SIGTERM', () => {
  test('exits 4 saying to run the same command again; the re-run completes identically and nothing is counted twice', async () => {
    const t = await freshDb('resume_term');
    const args = importArgs(tree.root, t.uri, t.dbName);
    const cli = startCli(args);
    const stop = await interruptAt(cli, t.db, Math.ceil(0.5 * tree.expected.logs), 'SIGTERM');
    const stopped = await cli.result;
    expect(stop.interrupted).toBe(true);
    expect(stopped.code, stopped.stderr).toBe(4);
    expect(stopped.stderr).toContain('SIGTERM received');
    expect(stopped.stderr).toMatch(/run the same command again/i);
    const first = parseReport(stopped);
    expect(first.complete).toBe(false);
    expect(first.exitCode).toBe(4);
    expect(first.totals.inserted).toBeGreaterThan(0);
    expect(first.totals.inserted).toBeLessThan(totalRecords(tree.expected));

    // A graceful stop records the outcome and gives the lease back: the re-run need not wait.
    const status = await statusJson(t.uri, t.dbName);
    expect(status.sessions[0]?.outcome).toBe('interrupted');
    expect(status.leases).toEqual([]);

    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    const second = parseReport(again);
    expect(second.complete).toBe(true);
    // In-flight batches finished before the exit and were counted: the two runs insert each record once.
    expect(first.totals.inserted + second.totals.inserted).toBe(totalRecords(tree.expected));
    expect(second.totals.conflict + second.totals.rejected).toBe(0);
    expect(await stateOf(t.db)).toBe(referenceState);
    expect(await lastSessionOutcome(t.uri, t.dbName)).toBe('complete');
  }, 60_000);
});

describe('re-runs with the ledger', () => {
  test('an unchanged tree is skipped without data writes; a grown log resumes at its last offset', async () => {
    const own = await makeSyntheticTree(SHAPE);
    try {
      const t = await freshDb('resume_rerun');
      const args = importArgs(own.root, t.uri, t.dbName);

      const firstRun = await runCli(args);
      expect(firstRun.code, firstRun.stderr).toBe(0);
      const first = parseReport(firstRun);
      expect(first.totals.inserted).toBe(totalRecords(own.expected));
      expect(first.files.skippedUnchanged).toBe(0);

      const secondRun = await runCli(args);
      expect(secondRun.code, secondRun.stderr).toBe(0);
      const second = parseReport(secondRun);
      console.log(
        `first import: ${firstRun.ms} ms wall (${first.durationMs} ms in the report); ` +
          `unchanged re-run: ${secondRun.ms} ms wall (${second.durationMs} ms in the report)`,
      );
      expect(second.complete).toBe(true);
      expect(second.totals).toMatchObject({ inserted: 0, updated: 0, unchanged: 0, conflict: 0, rejected: 0 });
      expect(second.files.skippedUnchanged).toBe(FILES);
      expect(await stateOf(t.db)).toBe(referenceState);

      const logIndex = 7;
      const logPath = own.logPath(logIndex);
      const entryBefore = (await ledgerFiles(t.db)).find((entry) => entry.path === logPath);
      expect(entryBefore).toMatchObject({ role: 'logs', status: 'done', nextLine: SHAPE.linesPerRun + 1, records: SHAPE.linesPerRun });

      const appended = 7;
      await own.appendLogLines(logIndex, appended);
      const grownRun = await runCli(args);
      expect(grownRun.code, grownRun.stderr).toBe(0);
      const grown = parseReport(grownRun);
      expect(grown.totals).toMatchObject({ inserted: appended, updated: 0, unchanged: 0, conflict: 0, rejected: 0 });
      expect(grown.collections.logs.inserted).toBe(appended);
      expect(grown.files.skippedUnchanged).toBe(FILES - 1);

      const entryAfter = (await ledgerFiles(t.db)).find((entry) => entry.path === logPath);
      expect(entryAfter).toMatchObject({
        status: 'done',
        nextLine: SHAPE.linesPerRun + appended + 1,
        endOffset: (await stat(path.join(own.root, logPath))).size,
        // The ledger counts what this run read: the new lines only.
        records: appended,
      });
      expect(entryAfter?.sha256).not.toBe(entryBefore?.sha256);

      // The same state as a clean import of the grown tree.
      const clean = await cleanImport(own, 'resume_rerun_ref');
      expect(await stateOf(t.db)).toBe(clean.state);
    } finally {
      await own.remove();
    }
  }, 60_000);
});
