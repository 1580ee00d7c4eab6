/**
 * N importers as a Kubernetes Indexed Job runs them: the same command in every pod
 * (`--partition auto --partitions N`), each pod told only its JOB_COMPLETION_INDEX (0..N-1).
 * Together they must import exactly what one process imports (full dumps compared), no record
 * twice; and each refuses to start without the count or the index (exit 2, before any connection).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ImportReport } from '../../src/report/import-report.js';
import { dumpDatabase, dumpText } from '../helpers/dump.js';
import { cleanEnv, runProcess, type ProcessResult } from '../helpers/run-process.js';
import { makeSyntheticTree, type SyntheticTree } from '../helpers/synthetic-tree.js';
import { testDatabases, type TestDb } from '../helpers/test-db.js';
import { FILES, LEDGER, SHAPE, ledgerFiles, totalRecords } from './cli-resume-support.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const databases = testDatabases({ useBigInt64: true });

let tree: SyntheticTree;

beforeAll(async () => {
  tree = await makeSyntheticTree(SHAPE);
}, 60_000);

afterAll(async () => {
  await databases.dropAll();
  await tree?.remove();
}, 60_000);

/** One pod: the built CLI with the Job's environment (JOB_COMPLETION_INDEX when given). */
function pod(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, [CLI, ...args], { cwd: REPO, env: cleanEnv(env), timeoutMs: 90_000 });
}

function importArgs(source: string, t: TestDb, extra: readonly string[] = []): string[] {
  return ['import', '--source', source, '--uri', t.uri, '--db', t.dbName, '--json', '--quiet', '--batch-size', '50', '--lease-ttl-seconds', '5', ...extra];
}

function reportOf(result: ProcessResult): ImportReport {
  try {
    return JSON.parse(result.stdout) as ImportReport;
  } catch {
    throw new Error(`no JSON report (exit ${result.code}): ${result.stderr}`);
  }
}

/** The Job: N pods side by side, pod i with JOB_COMPLETION_INDEX=i, all with the same arguments. */
async function indexedJob(source: string, t: TestDb, count: number): Promise<ProcessResult[]> {
  return Promise.all(Array.from({ length: count }, (_, index) => pod(importArgs(source, t, ['--partition', 'auto', '--partitions', String(count)]), { JOB_COMPLETION_INDEX: String(index) })));
}

describe('an Indexed Job of N importers over one tree and one database', () => {
  test('3 pods over a synthetic tree: together exactly one clean import, each file in one partition, no record twice', async () => {
    const reference = await databases.open('job_ref');
    const single = await pod(importArgs(tree.root, reference));
    expect(single.code, single.stderr).toBe(0);

    const t = await databases.open('job_three');
    const results = await indexedJob(tree.root, t, 3);
    const reports = results.map((result) => {
      expect(result.code, result.stderr).toBe(0);
      return reportOf(result);
    });
    for (const report of reports) {
      expect(report.complete).toBe(true);
      expect(report.totals.inserted, 'every partition has work at this size').toBeGreaterThan(0);
      // No partition met a record another one wrote.
      expect(report.totals).toMatchObject({ updated: 0, unchanged: 0, conflict: 0, rejected: 0 });
    }
    expect(reports.reduce((sum, report) => sum + report.totals.inserted, 0)).toBe(totalRecords(tree.expected));
    expect(dumpText(await dumpDatabase(t.db))).toBe(dumpText(await dumpDatabase(reference.db)));

    // The ledger: pod i wrote partition i+1/3; each file done by exactly one of them.
    const entries = await ledgerFiles(t.db);
    expect(new Set(entries.map((entry) => entry.partition))).toEqual(new Set(['1/3', '2/3', '3/3']));
    const owners = new Map<string, number>();
    for (const entry of entries) owners.set(entry.path, (owners.get(entry.path) ?? 0) + 1);
    expect(owners.size).toBe(FILES);
    expect([...owners.values()].every((count) => count === 1)).toBe(true);
    const sessions = await t.db.collection(LEDGER).find({ kind: 'session' }).toArray();
    expect(sessions.map((session) => session.partition as string).sort()).toEqual(['1/3', '2/3', '3/3']);
  }, 120_000);

  test('4 pods over fixtures/sample (orphans, ambiguous names, rejections across partitions): the same dump and the same rejections as one process', async () => {
    const reference = await databases.open('job_sample_ref');
    const single = await pod(importArgs(SAMPLE, reference));
    expect(single.code, single.stderr).toBe(3);
    const singleReport = reportOf(single);

    const t = await databases.open('job_sample');
    const results = await indexedJob(SAMPLE, t, 4);
    const reports = results.map((result) => {
      expect([0, 3], result.stderr).toContain(result.code);
      return reportOf(result);
    });
    expect(results.some((result) => result.code === 3), 'the rejections are reported by the partitions that own them').toBe(true);
    const sum = (key: 'inserted' | 'rejected' | 'updated' | 'unchanged' | 'conflict'): number => reports.reduce((total, report) => total + report.totals[key], 0);
    expect({ inserted: sum('inserted'), rejected: sum('rejected'), updated: sum('updated'), unchanged: sum('unchanged'), conflict: sum('conflict') }).toEqual({
      inserted: singleReport.totals.inserted,
      rejected: singleReport.totals.rejected,
      updated: 0,
      unchanged: 0,
      conflict: 0,
    });
    expect(dumpText(await dumpDatabase(t.db))).toBe(dumpText(await dumpDatabase(reference.db)));
  }, 120_000);
});

describe('each pod refuses to run without what --partition auto needs: exit 2, one line, before connecting', () => {
  // A server that is not there: a usage error must come before any connection attempt.
  const nowhere = ['import', '--source', SAMPLE, '--uri', 'mongodb://127.0.0.1:1/nowhere?serverSelectionTimeoutMS=500', '--json'];

  const refused = (result: ProcessResult, message: string): void => {
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toBe(`taskrunner-backfill: ${message}\n`);
    expect(result.stdout).toBe('');
  };

  test('no count, in every pod', async () => {
    const results = await Promise.all([0, 1, 2].map((index) => pod([...nowhere, '--partition', 'auto'], { JOB_COMPLETION_INDEX: String(index) })));
    for (const result of results) {
      refused(result, '--partition is auto but the number of partitions is not given: pass --partitions N (the Job\'s completions) or set TaskRunnerBackfill__Partitions');
    }
  });

  test('no JOB_COMPLETION_INDEX (not in an Indexed Job), also with the settings from the environment', async () => {
    refused(await pod([...nowhere, '--partition', 'auto', '--partitions', '3']), '--partition is auto but JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it in each pod); elsewhere pass --partition K/N');
    refused(
      await pod(nowhere, { TaskRunnerBackfill__Partition: 'auto', TaskRunnerBackfill__Partitions: '3' }),
      'the environment variable TaskRunnerBackfill__Partition is auto but JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it in each pod); elsewhere pass --partition K/N',
    );
  });

  test('an index the count does not cover (completions larger than --partitions)', async () => {
    refused(
      await pod([...nowhere, '--partition', 'auto', '--partitions', '3'], { JOB_COMPLETION_INDEX: '3' }),
      'JOB_COMPLETION_INDEX=3 is not below --partitions 3: the Job\'s completions and --partitions must be equal',
    );
  });

  test('the settings do not trouble verify or plan in the same pod (only import reads them)', async () => {
    const plan = await pod(['plan', '--source', SAMPLE, '--json', '--quiet'], { TaskRunnerBackfill__Partition: 'auto' });
    expect(plan.code, plan.stderr).toBe(3);
  });
});
