/**
 * `verify` reads the database one of two ways, chosen from the server profile: run by run
 * (`per-run`: MongoDB, or a few runs on FerretDB/PostgreSQL) or one read per collection matched
 * with the source as it is read (`scan`: FerretDB). Both must report the same, whatever the
 * server's order and however little they may hold. Here both run against the same damaged
 * database on the real test server (the read strategy is handed in, as the profile would),
 * with budgets small enough to take every fallback: records waiting too long read by run, logs
 * larger than a batch streamed (`find({runId})`) in per-run mode, documents in reverse order.
 */
import { appendFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db, Document } from 'mongodb';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport } from '../../src/pipeline/run-import.js';
import { runVerify, type VerifyDependencies, type VerifyOptions } from '../../src/pipeline/run-verify.js';
import type { VerifyReport } from '../../src/report/verify-report.js';
import type { ReadStrategy } from '../../src/server/server-profile.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';
import { makeSyntheticTree, syntheticLogLine, type SyntheticTree } from '../helpers/synthetic-tree.js';
import { ndjson } from '../helpers/source-tree.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const COLLECTIONS = ['pack_runs', 'pack_run_logs', 'pack_run_approvals', 'pack_artifacts'];

const reads = (lookup: ReadStrategy['lookup'], runEachLimit = 50): ReadStrategy => ({
  lookup,
  runEachLimit,
  pauseWritesDuringLookup: false,
  existingEntriesPerLookup: 5000,
  exactCollStatsCount: false,
});
const PER_RUN = reads('id-in');
const SCAN = reads('run-in');

let tree: SyntheticTree;
let t: TestDb;
let reversed: TestDb;

function options(extra: Partial<VerifyOptions> = {}): VerifyOptions {
  const config = resolveConfig({ source: tree.root }, {}, [], REPO);
  return { ...config, source: tree.root, ...extra };
}

async function verify(db: Db, strategy: ReadStrategy, extra: Partial<VerifyOptions> = {}, deps: Partial<VerifyDependencies> = {}): Promise<VerifyReport> {
  return runVerify(options(extra), { db, serverLabel: 'test', reads: strategy, ...deps });
}

/** Everything a report says about the data (not when or how it ran). */
const findings = (report: VerifyReport) => ({
  totals: report.totals,
  collections: report.collections,
  runs: report.runs,
  extraRuns: report.extraRuns,
  runsChecked: report.runsChecked,
  passed: report.passed,
});

/** The counts only: a run read by run after a long wait gets its extras counted, not listed. */
const counts = (report: VerifyReport) => ({
  totals: report.totals,
  collections: report.collections,
  runs: report.runs.map((run) => ({ runId: run.runId, collections: run.collections })),
  extraRuns: report.extraRuns,
  passed: report.passed,
});

beforeAll(async () => {
  // 12 runs of 60 log lines: with --batch-size 20 every log is larger than what per-run mode holds.
  tree = await makeSyntheticTree({ runs: 12, linesPerRun: 60 }, 'verify-read-modes-');
  t = await openTestDb('verify_modes', { useBigInt64: true });
  const imported = await runImport({ ...options(), concurrency: 2, overwrite: false }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
  expect(imported.complete).toBe(true);
  const logs = t.db.collection('pack_run_logs');
  // Missing, mismatched and extra log entries, an extra approval, a run only in the database.
  expect((await logs.deleteOne({ runId: tree.runId(2), sequence: 30n })).deletedCount).toBe(1);
  expect((await logs.updateOne({ runId: tree.runId(3), sequence: 59n }, { $set: { message: 'edited' } })).modifiedCount).toBe(1);
  await logs.insertOne({ runId: tree.runId(4), sequence: 999n, message: 'by hand' });
  await t.db.collection('pack_run_approvals').insertOne({ runId: tree.runId(5), approvalId: 'manual', status: 'approved' });
  await t.db.collection('pack_runs').insertOne({ _id: 'ghost-run' as never, planHash: 'x' });
  await logs.insertMany([1n, 2n, 3n].map((sequence) => ({ runId: 'ghost-run', sequence, message: 'ghost' })));
  await logs.insertOne({ runId: 12345, sequence: 1n, message: 'a number for a runId' });
  // A run whose log left the source (its 60 entries are extra, the smallest keys named), and one
  // whose log grew after the import (the new lines are missing).
  await rm(path.join(tree.root, tree.logPath(6)));
  await appendFile(path.join(tree.root, tree.logPath(7)), ndjson([61, 62, 63].map((line) => syntheticLogLine(7, line))));

  // The same documents in reverse order, in a database of their own.
  reversed = await openTestDb('verify_modes_rev', { useBigInt64: true });
  for (const name of COLLECTIONS) {
    const docs: Document[] = await t.db.collection(name).find({}).toArray();
    docs.reverse();
    if (docs.length > 0) await reversed.db.collection(name).insertMany(docs);
  }
}, 120_000);

afterAll(async () => {
  await t?.drop();
  await reversed?.drop();
  await tree?.remove();
});

describe('verify reads run by run or one scan per collection, and finds the same', () => {
  let reference: VerifyReport;
  beforeAll(async () => {
    reference = await verify(t.db, PER_RUN);
  });

  it('the reference (run by run) finds every damage', () => {
    expect(reference.complete).toBe(true);
    expect(reference.totals).toMatchObject({ missing: 1 + 3, mismatched: 1, extra: 1 + 1 + 60 + 1 + 3 + 1 });
    const run = (index: number) => reference.runs.find((candidate) => candidate.runId === tree.runId(index));
    expect(run(2)?.missing).toEqual([{ collection: 'logs', key: '30' }]);
    expect(run(3)?.mismatches.map((m) => m.key)).toEqual(['59']);
    expect(run(4)?.extras).toEqual([{ collection: 'logs', key: '999' }]);
    expect(run(5)?.extras).toEqual([{ collection: 'approvals', key: 'manual' }]);
    // Numerically smallest, not as text (1, 10, 11, ...).
    expect(run(6)?.extras.map((extra) => extra.key)).toEqual(['1', '2', '3', '4', '5']);
    expect(run(6)?.collections.logs.extra).toBe(60);
    expect(run(7)?.missing.map((m) => m.key)).toEqual(['61', '62', '63']);
    expect(reference.extraRuns.listed.map((extra) => extra.runId)).toEqual(['(runId "12345")', 'ghost-run']);
  });

  it('one scan per collection reports exactly the same', async () => {
    expect(findings(await verify(t.db, SCAN))).toEqual(findings(reference));
    // Where equality queries are the cheap ones, every run of the source means one scan too.
    expect(findings(await verify(t.db, reads('run-each')))).toEqual(findings(reference));
  });

  it('per-run mode streams logs larger than a batch (find by runId, matched as the lines arrive) and reports the same', async () => {
    expect(findings(await verify(t.db, PER_RUN, { batchSize: 20 }))).toEqual(findings(reference));
    // Hardly anything held: the stream hands its records to key lookups, extras counted from totals.
    expect(counts(await verify(t.db, PER_RUN, { batchSize: 20 }, { readBudget: 7 }))).toEqual(counts(reference));
  });

  it('a scan holding almost nothing reads the waiting runs by run, and counts the same', async () => {
    for (const budget of [1, 7, 50]) {
      expect(counts(await verify(t.db, SCAN, { batchSize: 20 }, { readBudget: budget })), `budget ${budget}`).toEqual(counts(reference));
    }
  });

  it('the server returning the documents in reverse order changes nothing', async () => {
    const expected = findings(reference);
    expect({ ...findings(await verify(reversed.db, SCAN)), passed: expected.passed }).toEqual(expected);
    expect({ ...counts(await verify(reversed.db, SCAN, { batchSize: 20 }, { readBudget: 30 })), passed: expected.passed }).toEqual(counts(reference));
    // A streamed log in reverse: its records wait past the budget, go to key lookups, and count the same.
    expect({ ...counts(await verify(reversed.db, PER_RUN, { batchSize: 20 }, { readBudget: 7 })), passed: expected.passed }).toEqual(counts(reference));
  });

  it('--run with a few runs: per-run reads and per-run extras (run-each) equal the scan and the reference', async () => {
    const runIds = [tree.runId(4), tree.runId(6), 'ghost-run'];
    const byRun = await verify(t.db, PER_RUN, { runIds });
    expect(byRun.totals.extra).toBe(1 + 60 + 3 + 1);
    expect(findings(await verify(t.db, reads('run-each'), { runIds }))).toEqual(findings(byRun));
    expect(findings(await verify(t.db, SCAN, { runIds }))).toEqual(findings(byRun));
    expect(findings(await verify(t.db, reads('run-each', 1), { runIds }))).toEqual(findings(byRun));
  });

  it('--sample: the same runs compared either way', async () => {
    const random = (): number => 0.5;
    const sampled = (strategy: ReadStrategy) => verify(t.db, strategy, { sample: 4 }, { random });
    const reference4 = findings(await sampled(PER_RUN));
    expect(findings(await sampled(SCAN))).toEqual(reference4);
    expect(findings(await sampled(reads('run-each')))).toEqual(reference4);
  });
});
