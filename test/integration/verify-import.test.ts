/**
 * `verify` against the real server: after a clean import of fixtures/sample every record is
 * reported present; then each kind of damage (deleted log entry, edited artifact, approval added
 * by hand, run made newer in the database, corrupt source line, runs only in the database) is
 * reported at its run, in its collection, with its kind, and nowhere else.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport } from '../../src/pipeline/run-import.js';
import { RejectionAcceptance } from '../../src/domain/rejection-acceptance.js';
import { runVerify, type VerifyOptions } from '../../src/pipeline/run-verify.js';
import { COLLECTION_ROLES, type CollectionRole } from '../../src/domain/collection-roles.js';
import type { RunVerification, VerifyCounts, VerifyReport } from '../../src/report/verify-report.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const NAMES: Record<CollectionRole, string> = {
  runs: 'pack_runs',
  logs: 'pack_run_logs',
  approvals: 'pack_run_approvals',
  artifacts: 'pack_artifacts',
};

interface Expected {
  documents: Record<string, number>;
  rejected: Record<string, number>;
}

function options(source: string, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  const config = resolveConfig({ source }, {}, [], REPO);
  return { ...config, source, ...extra };
}

function runOf(report: VerifyReport, runId: string): RunVerification {
  const run = report.runs.find((candidate) => candidate.runId === runId);
  if (!run) throw new Error(`run ${runId} is not among the runs that are not clean: ${report.runs.map((r) => r.runId).join(', ')}`);
  return run;
}

/** Runs (not clean) with a non-zero count of this kind, as `runId/collection`. */
function where(report: VerifyReport, kind: keyof VerifyCounts): string[] {
  return report.runs.flatMap((run) => COLLECTION_ROLES.filter((role) => run.collections[role][kind] > 0).map((role) => `${run.runId}/${role}`)).sort();
}

let t: TestDb;
let source: string;
let expected: Expected;
/** The import's rejections, as an operator who reviewed its --rejects file accepts them. */
let reviewed: RejectionAcceptance;

beforeAll(async () => {
  expected = JSON.parse(await readFile(path.join(REPO, 'fixtures/sample.expected.json'), 'utf8')) as Expected;
  source = await mkdtemp(path.join(tmpdir(), 'verify-import-'));
  await cp(SAMPLE, source, { recursive: true });
  t = await openTestDb('verify_import', { useBigInt64: true });
  const rejects: string[] = [];
  const imported = await runImport(
    { ...options(source), concurrency: 2, overwrite: false },
    { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }), onRejection: (rejection) => rejects.push(JSON.stringify(rejection)) },
  );
  expect(imported.complete).toBe(true);
  const parsed = RejectionAcceptance.parse(rejects.join('\n'));
  if ('error' in parsed) throw new Error(parsed.error);
  reviewed = parsed;
});

afterAll(async () => {
  await t?.drop();
  if (source) await rm(source, { recursive: true, force: true });
});

describe('verify after a clean import of fixtures/sample', () => {
  let report: VerifyReport;
  beforeAll(async () => {
    report = await runVerify(options(source), { db: t.db, serverLabel: 'test' });
  });

  it('fails on the rejected source records until they are accepted, then passes', async () => {
    expect(report.passed).toBe(false);
    expect(verifyExitCode(report)).toBe(3);
    expect(report.notInDatabase).toMatchObject({ total: 15, missing: 0, acceptedByReason: {} });
    const accepted = await runVerify({ ...options(source), acceptance: reviewed }, { db: t.db, serverLabel: 'test' });
    expect(accepted).toMatchObject({ passed: true, unusedAcceptances: 0 });
    expect(verifyExitCode(accepted)).toBe(0);
    expect(accepted.totals).toMatchObject({ rejected: 0, accepted: 15, missing: 0 });
    expect(accepted.notInDatabase).toMatchObject({ total: 15, rejectedByReason: {} });
  });

  it('reports every record present', () => {
    expect(report.complete).toBe(true);
    for (const role of COLLECTION_ROLES) {
      const counts = report.collections[role];
      expect(counts.name).toBe(NAMES[role]);
      expect(counts.expected, role).toBe(expected.documents[NAMES[role]]);
      expect(counts.found, role).toBe(counts.expected);
      expect(counts.missing + counts.mismatched + counts.keptNewer + counts.extra, role).toBe(0);
      expect(counts.rejected, role).toBe(expected.rejected[NAMES[role]]);
    }
    expect(report.totals.found).toBe(88);
    expect(report.extraRuns.count).toBe(0);
    expect(report.orphanRunIds).toEqual(['release-train-77', 'run-e41d']);
  });

  it('puts the source rejections on their runs, and only rejections', () => {
    expect(where(report, 'missing')).toEqual([]);
    expect(where(report, 'mismatched')).toEqual([]);
    expect(where(report, 'extra')).toEqual([]);
    expect(runOf(report, 'run-9a01').collections.runs.rejected).toBe(1);
    expect(runOf(report, 'run-9a01').rejections[0]?.reason).toBe('unknown-enum');
    const mirror = runOf(report, 'mirror-sync-203');
    expect(mirror.collections.logs).toMatchObject({ expected: 7, found: 7, rejected: 1 });
    expect(mirror.rejections.find((r) => r.collection === 'logs')).toMatchObject({ file: 'logs/runs/mirror-sync-203.ndjson', line: 8, reason: 'invalid-json' });
    // The sanitized file names are attributed to the run they belong to.
    expect(runOf(report, 'tenant-a:nightly/42').collections.artifacts).toMatchObject({ expected: 2, found: 2, rejected: 1 });
    // An ambiguous file name stays under that name, with a note naming both runs.
    const ambiguous = runOf(report, 'ci_a');
    expect(ambiguous.collections.logs.rejected + ambiguous.collections.approvals.rejected).toBe(2);
    expect(ambiguous.notes.join(' ')).toContain('ci/a, ci:a');
  });

  it('fails on the rejections alone, with or without --strict', async () => {
    const strict = await runVerify(options(source, { strict: true }), { db: t.db, serverLabel: 'test' });
    expect(strict.totals.missing + strict.totals.mismatched).toBe(0);
    expect(strict.passed).toBe(false);
    expect(verifyExitCode(strict)).toBe(3);
  });
});

describe('verify after damage in the database and in the source', () => {
  let report: VerifyReport;
  beforeAll(async () => {
    const db = t.db;
    // A deleted log entry.
    expect((await db.collection('pack_run_logs').deleteOne({ runId: 'run-7f3c', sequence: 3n })).deletedCount).toBe(1);
    // An edited artifact.
    expect((await db.collection('pack_artifacts').updateOne({ runId: 'run-7f3c', name: 'report' }, { $set: { notes: 'edited by hand' } })).modifiedCount).toBe(1);
    // An extra approval inserted by hand.
    await db.collection('pack_run_approvals').insertOne({
      runId: 'deploy-2025-11-05-0017',
      approvalId: 'manual-gate',
      requiredGrants: [],
      stepIds: [],
      messages: [],
      reasonTemplate: null,
      requestedAt: new Date('2025-11-07T00:00:00Z'),
      status: 'approved',
      actorId: 'user:ops',
      completedAt: new Date('2025-11-07T00:01:00Z'),
      summary: 'added by hand',
    });
    // An artifact written by hand for a run whose source has no manifest.
    await db.collection('pack_artifacts').insertOne({ runId: 'nightly-scan-1187', name: 'late-artifact', type: 'file', status: 'copied', capturedAt: new Date() });
    // A run made newer in the database (the live service wrote it after the import).
    const nightly = await db.collection('pack_runs').findOne({ _id: 'nightly-scan-1187' as never });
    const later = new Date((nightly?.updatedAt as Date).getTime() + 3_600_000);
    await db.collection('pack_runs').updateOne({ _id: 'nightly-scan-1187' as never }, { $set: { updatedAt: later, tenantId: 'moved' } });
    // A log entry edited in the database (log entries are immutable: any difference is a mismatch).
    await db.collection('pack_run_logs').updateOne({ runId: 'run-0b2e', sequence: 1n }, { $set: { level: 'error' } });
    // A corrupt source line: line 4 of run-0b2e's log (its entry stays in the database).
    const logPath = path.join(source, 'logs/runs/run-0b2e.ndjson');
    const lines = (await readFile(logPath, 'utf8')).split('\n');
    lines[3] = '{"timestamp":"2025-11-06T10:00:00Z","level":"info","eventType":';
    await writeFile(logPath, lines.join('\n'));
    // A run only in the database, with logs.
    await db.collection('pack_runs').insertOne({ _id: 'ghost-run' as never, planHash: 'x' });
    await db.collection('pack_run_logs').insertMany([
      { runId: 'ghost-run', sequence: 1n, message: 'a' },
      { runId: 'ghost-run', sequence: 2n, message: 'b' },
    ]);
    report = await runVerify(options(source), { db, serverLabel: 'test' });
  });

  it('fails with exit code 3', () => {
    expect(report.passed).toBe(false);
    expect(verifyExitCode(report)).toBe(3);
    expect(report.totals).toMatchObject({ missing: 1, mismatched: 2, keptNewer: 1, extra: 1 + 1 + 1 + 1 + 2, rejected: 16 });
    // Failing runs first (missing, mismatched or rejected records), then runs with extra or newer documents only.
    const failing = (run: VerifyReport['runs'][number]): boolean =>
      COLLECTION_ROLES.some((role) => run.collections[role].missing + run.collections[role].mismatched + run.collections[role].rejected > 0);
    const firstNotFailing = report.runs.findIndex((run) => !failing(run));
    expect(report.runs.slice(firstNotFailing).every((run) => !failing(run))).toBe(true);
    // nightly-scan-1187 has an extra artifact and a rejected approval: failing.
    expect(report.runs.slice(0, firstNotFailing).map((run) => run.runId)).toEqual(expect.arrayContaining(['run-0b2e', 'run-7f3c', 'nightly-scan-1187']));
    expect(report.runs.slice(firstNotFailing).map((run) => run.runId)).toEqual(['deploy-2025-11-05-0017']);
  });

  it('reports the deleted log entry as missing at its run', () => {
    expect(where(report, 'missing')).toEqual(['run-7f3c/logs']);
    const run = runOf(report, 'run-7f3c');
    expect(run.collections.logs).toMatchObject({ expected: 15, found: 14, missing: 1 });
    expect(run.missing).toEqual([{ collection: 'logs', key: '3' }]);
  });

  it('reports the edited artifact as a mismatch naming the field, and the edited log line too', () => {
    expect(where(report, 'mismatched')).toEqual(['run-0b2e/logs', 'run-7f3c/artifacts']);
    const artifact = runOf(report, 'run-7f3c').mismatches.find((m) => m.collection === 'artifacts');
    expect(artifact).toMatchObject({ key: 'report', fields: ['notes'], file: 'artifacts/run-7f3c/artifact-manifest.json' });
    expect(artifact?.differences).toHaveLength(1);
    expect(artifact?.differences[0]).toMatchObject({ path: 'notes', database: '"edited by hand"' });
    expect(artifact?.differences[0]?.file).not.toBe(artifact?.differences[0]?.database);
    const log = runOf(report, 'run-0b2e').mismatches.find((m) => m.collection === 'logs');
    expect(log).toMatchObject({ key: '1', fields: ['level'], line: 1 });
    expect(log?.differences[0]).toMatchObject({ path: 'level', database: '"error"' });
  });

  it('reports the approval added by hand as extra at its run', () => {
    const deploy = runOf(report, 'deploy-2025-11-05-0017');
    expect(deploy.collections.approvals).toMatchObject({ expected: 1, found: 1, extra: 1 });
    expect(deploy.extras).toEqual([{ collection: 'approvals', key: 'manual-gate' }]);
  });

  it('reports an artifact of a run without manifest as extra', () => {
    const nightly = runOf(report, 'nightly-scan-1187');
    expect(nightly.collections.artifacts).toMatchObject({ expected: 0, found: 0, extra: 1 });
    expect(nightly.extras).toEqual([{ collection: 'artifacts', key: 'late-artifact' }]);
    expect(where(report, 'extra')).toEqual(['deploy-2025-11-05-0017/approvals', 'nightly-scan-1187/artifacts', 'run-0b2e/logs']);
  });

  it('reports the run made newer in the database as kept-newer, not as a mismatch', () => {
    expect(where(report, 'keptNewer')).toEqual(['nightly-scan-1187/runs']);
    const nightly = runOf(report, 'nightly-scan-1187');
    expect(nightly.collections.runs).toMatchObject({ expected: 1, found: 1, keptNewer: 1, mismatched: 0 });
    expect((nightly.keptNewer[0]?.databaseVersion ?? '') > (nightly.keptNewer[0]?.fileVersion ?? '')).toBe(true);
  });

  it('reports the corrupt source line as a rejection at its line, and its old entry as extra', () => {
    const run = runOf(report, 'run-0b2e');
    expect(run.collections.logs).toMatchObject({ expected: 6, found: 6, rejected: 1, extra: 1 });
    expect(run.rejections.find((r) => r.collection === 'logs')).toMatchObject({ file: 'logs/runs/run-0b2e.ndjson', line: 4, reason: 'invalid-json' });
    expect(run.extras).toEqual([{ collection: 'logs', key: '4' }]);
  });

  it('reports runs only in the database as extra runs', () => {
    expect(report.extraRuns.count).toBe(1);
    expect(report.extraRuns.listed).toEqual([{ runId: 'ghost-run', documents: { runs: 1, logs: 2, approvals: 0, artifacts: 0 } }]);
    expect(report.collections.runs.extra).toBe(1);
    expect(report.runs.some((run) => run.runId === 'ghost-run')).toBe(false);
  });

  it('finds the same whatever the batch size (records held per file, or compared batch by batch)', async () => {
    const summary = (r: VerifyReport) => ({ totals: r.totals, collections: r.collections, runs: r.runs, extraRuns: r.extraRuns });
    for (const batchSize of [1, 4]) {
      const small = await runVerify(options(source, { batchSize }), { db: t.db, serverLabel: 'test' });
      expect(summary(small), `batch size ${batchSize}`).toEqual(summary(report));
    }
  });

  it('extras alone do not fail (only with --strict); --run scopes the verdict', async () => {
    const onlyExtras = await runVerify(options(source, { runIds: ['deploy-2025-11-05-0017', 'ghost-run'] }), { db: t.db, serverLabel: 'test' });
    expect(onlyExtras.scope).toEqual({ kind: 'runs', runIds: ['deploy-2025-11-05-0017', 'ghost-run'] });
    expect(onlyExtras.runsChecked).toBe(1);
    expect(onlyExtras.totals).toMatchObject({ expected: 1 + 13 + 1 + 3, missing: 0, mismatched: 0, extra: 1 + 1 + 2 });
    expect(onlyExtras.extraRuns.listed.map((extra) => extra.runId)).toEqual(['ghost-run']);
    expect(verifyExitCode(onlyExtras)).toBe(0);
    const strict = await runVerify(options(source, { runIds: ['deploy-2025-11-05-0017'], strict: true }), { db: t.db, serverLabel: 'test' });
    expect(verifyExitCode(strict)).toBe(3);
    const damaged = await runVerify(options(source, { runIds: ['run-7f3c'] }), { db: t.db, serverLabel: 'test' });
    expect(verifyExitCode(damaged)).toBe(3);
    expect(damaged.runs.map((run) => run.runId)).toEqual(['run-7f3c']);
  });

  it('stops when aborted: incomplete, exit code 4', async () => {
    const stopped = await runVerify(options(source), { db: t.db, serverLabel: 'test', signal: AbortSignal.abort() });
    expect(stopped.complete).toBe(false);
    expect(verifyExitCode(stopped)).toBe(4);
    expect(stopped.extraRuns.count).toBe(0);
  });
});
