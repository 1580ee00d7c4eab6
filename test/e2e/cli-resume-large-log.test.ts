/**
 * A kill -9 in the middle of one large log file: the ledger keeps the file's progress (a
 * `partial` entry at a read-chunk boundary whose lines were all written), so the next run reads
 * on from there instead of meeting the whole written part again, and still ends byte-identical to
 * a clean import. A changed prefix makes the next run read the file from its start.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Long, ObjectId } from 'mongodb';
import { testDatabases, type TestDb } from '../helpers/test-db.js';
import { makeSyntheticTree, type SyntheticTree } from '../helpers/synthetic-tree.js';
import { importArgs, interruptAt, killLeftovers, ledgerFiles, parseReport, runCli, startCli, stateOf } from './cli-resume-support.js';

// One run, one log of ~7 MB: seven 1 MiB read chunks, so several checkpoints.
const LINES = 24_000;
let tree: SyntheticTree;
let referenceState: string;
const databases = testDatabases();
const freshDb = (prefix: string): Promise<TestDb> => databases.open(prefix);

beforeAll(async () => {
  tree = await makeSyntheticTree({ runs: 1, linesPerRun: LINES });
  const clean = await freshDb('large_log_ref');
  const result = await runCli(importArgs(tree.root, clean.uri, clean.dbName, ['--no-ledger']));
  expect(result.code, result.stderr).toBe(0);
  referenceState = await stateOf(clean.db);
}, 300_000);

afterEach(() => killLeftovers());

afterAll(async () => {
  killLeftovers();
  await databases.dropAll();
  await tree?.remove();
}, 60_000);

async function killHalfway(t: TestDb, args: string[]): Promise<number> {
  const cli = startCli(args);
  const stop = await interruptAt(cli, t.db, Math.ceil(0.5 * LINES), 'SIGKILL');
  await cli.result;
  expect(stop.interrupted, 'the import finished before it could be killed').toBe(true);
  expect(stop.logsAtStop).toBeLessThan(LINES);
  return stop.logsAtStop;
}

describe('kill -9 in the middle of a large log file', () => {
  test('the next run reads on from the last safe checkpoint and ends identical to a clean import', async () => {
    const t = await freshDb('large_log_kill');
    const args = importArgs(tree.root, t.uri, t.dbName);
    const written = await killHalfway(t, args);

    const [partial] = (await ledgerFiles(t.db)).filter((entry) => entry.role === 'logs');
    expect(partial?.status).toBe('partial');
    expect(partial?.nextLine).toBeGreaterThan(1);
    // Every line before the checkpoint is in the database.
    expect(written).toBeGreaterThanOrEqual((partial?.nextLine ?? 1) - 1);

    const resumed = await runCli(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = parseReport(resumed);
    // Only what lay after the checkpoint was read again: the entries met again are at most those
    // written past it (plus the batches the server finished after the count: 2 x 50 in flight),
    // not the ~12,000 written before the kill.
    const pastCheckpoint = written - ((partial?.nextLine ?? 1) - 1);
    expect(report.collections.logs.unchanged).toBeLessThanOrEqual(pastCheckpoint + 2 * 50);
    expect(report.collections.logs.unchanged).toBeLessThan(written / 2);
    expect(report.collections.logs.unchanged + report.collections.logs.inserted).toBe(LINES - ((partial?.nextLine ?? 1) - 1));
    expect(report.totals.conflict + report.totals.rejected).toBe(0);
    expect(await stateOf(t.db)).toBe(referenceState);
    const [done] = (await ledgerFiles(t.db)).filter((entry) => entry.role === 'logs');
    expect(done?.status).toBe('done');
  }, 300_000);

  test('killed again and again while resuming, each run gets further and ends identical to a clean import', async () => {
    const t = await freshDb('large_log_rekill');
    const args = importArgs(tree.root, t.uri, t.dbName);
    let previousLine = 0;
    for (const fraction of [0.3, 0.55, 0.8]) {
      const cli = startCli(args);
      const stop = await interruptAt(cli, t.db, Math.ceil(fraction * LINES), 'SIGKILL');
      await cli.result;
      expect(stop.interrupted, `the import finished before ${fraction}`).toBe(true);
      const [entry] = (await ledgerFiles(t.db)).filter((file) => file.role === 'logs');
      expect(entry?.status).toBe('partial');
      // The safe checkpoint moves on with every run (once what it met again was compared): no run
      // starts again where an earlier one did.
      expect(entry?.nextLine ?? 1).toBeGreaterThan(previousLine);
      previousLine = entry?.nextLine ?? 1;
    }
    const resumed = await runCli(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = parseReport(resumed);
    expect(report.totals.conflict + report.totals.rejected).toBe(0);
    expect(await stateOf(t.db)).toBe(referenceState);
    const [done] = (await ledgerFiles(t.db)).filter((entry) => entry.role === 'logs');
    expect(done?.status).toBe('done');
  }, 480_000);

  test('a conflict the killed run met is still reported by the resume (entries met again are compared, never trusted)', async () => {
    const t = await freshDb('large_log_conflict_kill');
    const args = importArgs(tree.root, t.uri, t.dbName);
    // What the live service might have written under a key of this log, before the import.
    const sequence = Math.ceil(0.3 * LINES);
    await t.db.collection('pack_run_logs').insertOne({
      _id: new ObjectId(),
      runId: tree.runId(0),
      sequence: Long.fromNumber(sequence),
      timestamp: new Date('2030-01-01T00:00:00Z'),
      level: 'info',
      message: 'written by the live service',
    });
    await killHalfway(t, args);
    const resumed = await runCli(args);
    const report = parseReport(resumed);
    expect(report.conflicts.map((conflict) => conflict.key)).toEqual([`${tree.runId(0)}#${sequence}`]);
    expect(resumed.code, resumed.stderr).toBe(3);
    expect(report.collections.logs.conflict).toBe(1);
  }, 300_000);

  test('after the kill a line was appended: what the resume meets again is read back and compared', async () => {
    const source = await makeSyntheticTree({ runs: 1, linesPerRun: LINES });
    try {
      const t = await freshDb('large_log_changed_after_kill');
      const args = [...importArgs(source.root, t.uri, t.dbName).filter((arg) => arg !== '--quiet'), '--log-level', 'info'];
      await killHalfway(t, args);
      const [partial] = (await ledgerFiles(t.db)).filter((entry) => entry.role === 'logs');
      // A line appended after the kill: the resume reads on and compares what it meets again.
      const logPath = path.join(source.root, partial?.path ?? '');
      const lastLine = (await readFile(logPath, 'utf8')).trimEnd().split('\n').at(-1) ?? '';
      await writeFile(logPath, `${await readFile(logPath, 'utf8')}${lastLine.replace('"message":"', '"message":"appended ')}\n`);
      const resumed = await runCli(args);
      expect(resumed.code, resumed.stderr).toBe(0);
      const report = parseReport(resumed);
      expect(report.collections.logs.unchanged).toBeGreaterThan(0);
      expect(resumed.stderr).toContain('compared log entries that were already in the database');
      expect(report.totals.conflict).toBe(0);
    } finally {
      await source.remove();
    }
  }, 360_000);

  test('a log whose imported part changed since is read from its first line', async () => {
    const source = await makeSyntheticTree({ runs: 1, linesPerRun: LINES });
    try {
      const t = await freshDb('large_log_changed');
      const args = importArgs(source.root, t.uri, t.dbName);
      await killHalfway(t, args);
      const [partial] = (await ledgerFiles(t.db)).filter((entry) => entry.role === 'logs');
      expect(partial?.status).toBe('partial');

      // Edit the first line (same length, so offsets stay): the checkpoint's hash no longer matches.
      const logPath = path.join(source.root, partial?.path ?? '');
      const text = await readFile(logPath, 'utf8');
      const firstEnd = text.indexOf('\n');
      const edited = text.slice(0, firstEnd).replace(/"message":"(.)/, (_match, c: string) => `"message":"${c === 'X' ? 'Y' : 'X'}`);
      expect(edited.length).toBe(firstEnd);
      await writeFile(logPath, edited + text.slice(firstEnd));

      const resumed = await runCli(args);
      const report = parseReport(resumed);
      // Read from line 1: the edited line is a conflict (stored entries never change), and every
      // other line is either met again or new.
      expect(report.conflicts.map((conflict) => conflict.key)).toEqual([`${source.runId(0)}#1`]);
      expect(report.collections.logs.unchanged + report.collections.logs.inserted + report.collections.logs.conflict).toBe(LINES);
      expect(resumed.code).toBe(3);
    } finally {
      await source.remove();
    }
  }, 300_000);
});
