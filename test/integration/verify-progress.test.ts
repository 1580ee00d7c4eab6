/**
 * `verify` reports progress as `import` does (bars on a terminal, periodic log lines otherwise):
 * against the real server, the listener is sized from the scan and sees every file finish, those
 * outside `--run` included, and every record compared.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport } from '../../src/pipeline/run-import.js';
import { runVerify, type VerifyOptions } from '../../src/pipeline/run-verify.js';
import type { ImportProgress, WorkTotals } from '../../src/report/progress.js';
import { COLLECTION_ROLES } from '../../src/domain/collection-roles.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');

function options(extra: Partial<VerifyOptions> = {}): VerifyOptions {
  const config = resolveConfig({ source: SAMPLE }, {}, [], REPO);
  return { ...config, source: SAMPLE, ...extra };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function importedSample(): Promise<TestDb> {
  const t = await openTestDb('verify_progress', { useBigInt64: true });
  cleanups.push(() => t.drop());
  await runImport({ ...options(), concurrency: 2, overwrite: false }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
  return t;
}

describe('verify progress', () => {
  it('is sized from the scan, sees every file finish with its bytes and every compared record, and stops', async () => {
    const t = await importedSample();
    const files = { runs: 0, logs: 0, approvals: 0, artifacts: 0 };
    const bytes = { runs: 0, logs: 0, approvals: 0, artifacts: 0 };
    let records = 0;
    let stops = 0;
    let totals: WorkTotals | undefined;
    const progress: ImportProgress = {
      start: (work) => void (totals = work),
      records: (_role, count) => void (records += count),
      fileDone: (role, size) => {
        files[role] += 1;
        bytes[role] += size;
      },
      stop: () => void (stops += 1),
    };
    const report = await runVerify(options(), { db: t.db, serverLabel: 'test', progress });
    expect(report.complete).toBe(true);
    expect(totals).toBeDefined();
    for (const role of COLLECTION_ROLES) {
      expect(files[role], role).toBe(totals?.[role].files);
      expect(bytes[role], role).toBe(totals?.[role].bytes);
      expect(report.files[role], role).toBe(totals?.[role].files);
    }
    expect(records).toBe(report.totals.expected);
    expect(stops).toBeGreaterThanOrEqual(1);
  });

  it('with --run, the files of other runs count as done when they are skipped, so the bars reach the end', async () => {
    const t = await importedSample();
    const files = { runs: 0, logs: 0, approvals: 0, artifacts: 0 };
    let records = 0;
    let totals: WorkTotals | undefined;
    const progress: ImportProgress = {
      start: (work) => void (totals = work),
      records: (_role, count) => void (records += count),
      fileDone: (role) => void (files[role] += 1),
      stop: () => undefined,
    };
    const all = await runVerify(options(), { db: t.db, serverLabel: 'test' });
    const report = await runVerify(options({ runIds: ['run-9a01'] }), { db: t.db, serverLabel: 'test', progress });
    for (const role of COLLECTION_ROLES) expect(files[role], role).toBe(totals?.[role].files);
    expect(records).toBeGreaterThan(0);
    expect(records).toBeLessThan(all.totals.expected);
    expect(report.scope).toMatchObject({ kind: 'runs' });
  });
});

describe('verify stops promptly', () => {
  it('a stop request during the comparison of a phase ends it at the next file, not at the next batch', async () => {
    const t = await importedSample();
    const controller = new AbortController();
    let approvalsDone = 0;
    const progress: ImportProgress = {
      start: () => undefined,
      records: () => undefined,
      fileDone: (role) => {
        if (role !== 'approvals') return;
        approvalsDone += 1;
        controller.abort(); // as SIGINT would, right after the first approvals file was compared
      },
      stop: () => undefined,
    };
    const report = await runVerify(options(), { db: t.db, serverLabel: 'test', progress, signal: controller.signal });
    expect(report.complete).toBe(false);
    expect(verifyExitCode(report)).toBe(4);
    // All approvals arrive in one batch, so without the check between files every file would be compared.
    expect(report.files.approvals).toBeGreaterThan(2);
    expect(approvalsDone).toBe(1);
  });
});
