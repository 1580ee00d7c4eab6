/**
 * Re-runs against the real server: what a second import may and may not change (layout spec,
 * "What a re-run may and may not change in the database").
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Document } from 'mongodb';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { importExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import type { ImportReport } from '../../src/report/import-report.js';
import { dumpCollection, dumpDatabase, dumpText, sameBytes } from '../helpers/dump.js';
import {
  approval,
  artifactOutput,
  cleanTreeSpec,
  logLine,
  makeSourceTree,
  manifest,
  ndjson,
  runState,
  step,
  type SourceTree,
} from '../helpers/source-tree.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDb(prefix: string): Promise<TestDb> {
  const t = await openTestDb(prefix, { useBigInt64: true });
  cleanups.push(() => t.drop());
  return t;
}

async function tree(spec = cleanTreeSpec()): Promise<SourceTree> {
  const made = await makeSourceTree(spec);
  cleanups.push(() => made.remove());
  return made;
}

function importInto(t: TestDb, source: string, overrides: Partial<ImportOptions> = {}): Promise<ImportReport> {
  const config = resolveConfig({ source }, {}, [], REPO);
  return runImport(
    { ...config, source: config.source ?? source, ...overrides },
    { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) },
  );
}

/** Options that make a re-run read and compare every file (the ledger would skip unchanged ones). */
const COMPARE_ALL = { useLedger: false } as const;

const HOUR = 3_600_000;

type RunDoc = Document & { _id: string };

describe('re-running an import', () => {
  it('writes nothing the second time and leaves the four collections byte-identical', async () => {
    const t = await freshDb('rerun_identical');
    const first = await importInto(t, SAMPLE);
    expect(first.totals.inserted).toBe(88);
    const before = await dumpDatabase(t.db);
    expect(before.logs.count).toBe(65);
    expect(before.logs.bson.length).toBeGreaterThan(65 * 100);
    expect(before.logs.ejson[0]).toContain('"$oid"');
    expect(before.logs.ejson[0]).toContain('"$numberLong"');

    // The default run: the ledger skips what it finished, nothing is written.
    const second = await importInto(t, SAMPLE);
    expect(second.totals).toMatchObject({ inserted: 0, updated: 0, keptNewer: 0, conflict: 0 });
    expect(second.files.skippedUnchanged).toBeGreaterThan(0);
    const afterSecond = await dumpDatabase(t.db);
    expect(dumpText(afterSecond)).toBe(dumpText(before));
    expect(sameBytes(afterSecond, before)).toBe(true);

    // Reading and comparing everything finds every stored record unchanged.
    const third = await importInto(t, SAMPLE, COMPARE_ALL);
    expect(third.totals).toEqual({ inserted: 0, updated: 0, unchanged: 88, keptNewer: 0, conflict: 0, rejected: 15, accepted: 0 });
    const afterThird = await dumpDatabase(t.db);
    expect(dumpText(afterThird)).toBe(dumpText(before));
    expect(sameBytes(afterThird, before)).toBe(true);
  });

  it('keeps a run the live service made newer (keptNewer) and replaces it only with overwrite', async () => {
    const t = await freshDb('rerun_newer_db');
    const source = await tree();
    await importInto(t, source.root, COMPARE_ALL);
    const imported = await dumpDatabase(t.db);

    const runs = t.db.collection<RunDoc>('pack_runs');
    const stored = await runs.findOne({ _id: 'run-1' });
    const later = new Date((stored?.updatedAt as Date).getTime() + HOUR);
    await runs.updateOne({ _id: 'run-1' }, { $set: { updatedAt: later, 'steps.1.status': 'failed', 'steps.1.statusReason': 'exit code 1' } });
    const serviceCopy = await dumpCollection(t.db, 'runs', 'pack_runs');

    const rerun = await importInto(t, source.root, COMPARE_ALL);
    expect(rerun.collections.runs).toMatchObject({ inserted: 0, updated: 0, unchanged: 0, keptNewer: 1, conflict: 0 });
    expect(rerun.keptNewer).toEqual([{ collection: 'runs', key: 'run-1', file: 'state/runs/run-1.json' }]);
    expect(rerun.totals.unchanged).toBe(4); // the log lines, the approval and the artifact
    expect(importExitCode(rerun)).toBe(0);
    const afterRerun = await dumpCollection(t.db, 'runs', 'pack_runs');
    expect(afterRerun.ejson).toEqual(serviceCopy.ejson);
    expect(afterRerun.ejson[0]).toContain('exit code 1');

    const overwrite = await importInto(t, source.root, { ...COMPARE_ALL, overwrite: true });
    expect(overwrite.collections.runs).toMatchObject({ updated: 1, keptNewer: 0, conflict: 0 });
    expect(overwrite.keptNewer).toEqual([]);
    // The file's version is back, byte for byte as the first import wrote it (same _id).
    const restored = await dumpDatabase(t.db);
    expect(dumpText(restored)).toBe(dumpText(imported));
    expect(sameBytes(restored, imported)).toBe(true);
  });

  it('calls a same-version artifact with other content a conflict and leaves it untouched unless overwrite', async () => {
    const t = await freshDb('rerun_conflict');
    const source = await tree();
    await importInto(t, source.root, COMPARE_ALL);
    const before = await dumpDatabase(t.db);

    // Same capturedAt (the manifest's uploadedAt), different notes.
    await source.write('artifacts/run-1/artifact-manifest.json', manifest({ outputs: [artifactOutput({ notes: 'rewritten by hand' })] }));
    const rerun = await importInto(t, source.root, COMPARE_ALL);
    expect(rerun.collections.artifacts).toMatchObject({ inserted: 0, updated: 0, conflict: 1 });
    expect(rerun.conflicts).toEqual([{ collection: 'artifacts', key: 'run-1#report', file: 'artifacts/run-1/artifact-manifest.json', fields: ['notes'] }]);
    expect(importExitCode(rerun)).toBe(3);
    const after = await dumpDatabase(t.db);
    expect(dumpText(after)).toBe(dumpText(before));

    const overwrite = await importInto(t, source.root, { ...COMPARE_ALL, overwrite: true });
    expect(overwrite.collections.artifacts).toMatchObject({ updated: 1, conflict: 0 });
    const artifact = await t.db.collection('pack_artifacts').findOne({ runId: 'run-1', name: 'report' });
    expect(artifact?.notes).toBe('rewritten by hand');
    expect(before.artifacts.ejson[0]).toContain(`"$oid":"${String(artifact?._id)}"`); // replaced in place, same _id
  });

  it('never changes a stored log entry: a line edited in the file is a conflict, even with overwrite', async () => {
    const t = await freshDb('rerun_log_conflict');
    const source = await tree();
    await importInto(t, source.root);
    const before = await dumpDatabase(t.db);

    await source.write(
      'logs/runs/run-1.ndjson',
      ndjson([
        logLine({ eventType: 'run.created', message: 'Run created.', stepId: null, metadata: { queueDepth: 3 } }),
        logLine({ message: 'Step build started (edited after the import, and longer).' }),
      ]),
    );
    // The default run (the ledger sees the file changed), then overwrite comparing everything.
    for (const options of [{}, { overwrite: true, ...COMPARE_ALL }]) {
      const rerun = await importInto(t, source.root, options);
      expect(rerun.collections.logs, JSON.stringify(options)).toMatchObject({ inserted: 0, updated: 0, conflict: 1 });
      expect(rerun.conflicts.filter((c) => c.collection === 'logs')).toEqual([
        { collection: 'logs', key: 'run-1#2', file: 'logs/runs/run-1.ndjson', line: 2, fields: ['message'] },
      ]);
      expect(importExitCode(rerun)).toBe(3);
      const after = await dumpDatabase(t.db);
      expect(dumpText(after)).toBe(dumpText(before));
      expect(sameBytes(after, before)).toBe(true);
    }
  });

  it('updates the documents whose file was made newer, and appends new log lines', async () => {
    const t = await freshDb('rerun_newer_file');
    const source = await tree({
      ...cleanTreeSpec(),
      'state/approvals/run-1.json': [approval({ status: 'Pending', actorId: null, completedAt: null, summary: null })],
    });
    await importInto(t, source.root);
    const runs = t.db.collection<RunDoc>('pack_runs');
    const first = await runs.findOne({ _id: 'run-1' });

    await source.write(
      'state/runs/run-1.json',
      runState({
        updatedAt: '2025-11-06T10:00:00.9999999+00:00',
        steps: [
          step({ stepId: 'approve', kind: 'GateApproval', approvalId: 'security-review' }),
          step({ stepId: 'build', status: 'Failed', attempts: 2, statusReason: 'exit code 2' }),
        ],
      }),
    );
    await source.write('state/approvals/run-1.json', [approval()]);
    await source.write('artifacts/run-1/artifact-manifest.json', manifest({ uploadedAt: '2025-11-06T11:00:00Z', outputs: [artifactOutput({ status: 'materialized' })] }));
    await source.write(
      'logs/runs/run-1.ndjson',
      ndjson([
        logLine({ eventType: 'run.created', message: 'Run created.', stepId: null, metadata: { queueDepth: 3 } }),
        logLine(),
        logLine({ timestamp: '2025-11-06T10:00:00Z', level: 'error', eventType: 'step.failed', message: 'Step build failed.' }),
      ]),
    );

    const rerun = await importInto(t, source.root);
    expect(rerun.collections.runs).toMatchObject({ updated: 1, inserted: 0, conflict: 0, keptNewer: 0 });
    expect(rerun.collections.approvals).toMatchObject({ updated: 1, inserted: 0, conflict: 0 });
    expect(rerun.collections.artifacts).toMatchObject({ updated: 1, inserted: 0, conflict: 0 });
    expect(rerun.collections.logs).toMatchObject({ inserted: 1, conflict: 0 });
    expect(importExitCode(rerun)).toBe(0);

    const run = await runs.findOne({ _id: 'run-1' });
    expect(run?.updatedAt).toEqual(new Date('2025-11-06T10:00:00.999Z'));
    expect((run?.steps as Document[])[1]).toMatchObject({ stepId: 'build', status: 'failed', attempts: 2, statusReason: 'exit code 2' });
    expect(run?.createdAt).toEqual(first?.createdAt);
    const stored = await t.db.collection('pack_run_approvals').findOne({ runId: 'run-1', approvalId: 'security-review' });
    expect(stored).toMatchObject({ status: 'approved', actorId: 'user:alice', completedAt: new Date('2025-11-06T09:02:58.000Z'), summary: 'LGTM' });
    const artifact = await t.db.collection('pack_artifacts').findOne({ runId: 'run-1', name: 'report' });
    expect(artifact).toMatchObject({ status: 'materialized', capturedAt: new Date('2025-11-06T11:00:00.000Z') });
    expect(await t.db.collection('pack_artifacts').countDocuments({})).toBe(1);
    expect(await t.db.collection('pack_run_logs').countDocuments({ runId: 'run-1', sequence: 3n })).toBe(1);
  });

  it('compares by BSON type whatever options the caller\'s client was made with (no useBigInt64)', async () => {
    const t = await openTestDb('rerun_plain_client');
    cleanups.push(() => t.drop());
    const source = await tree();
    expect((await importInto(t, source.root, COMPARE_ALL)).totals.inserted).toBe(5);
    const rerun = await importInto(t, source.root, COMPARE_ALL);
    expect(rerun.totals).toEqual({ inserted: 0, updated: 0, unchanged: 5, keptNewer: 0, conflict: 0, rejected: 0, accepted: 0 });
  });

  it.each([
    ['pascal', 'GateApproval', 'Succeeded', 'Approved', 'string'],
    ['number', 2, 2, 1, 'int'],
  ] as const)('writes enums in the %s style', async (enumStyle, kind, status, approvalStatus, bsonType) => {
    const t = await freshDb(`enum_${enumStyle}`);
    const source = await tree();
    const report = await importInto(t, source.root, { enumStyle });
    expect(importExitCode(report)).toBe(0);
    const run = await t.db.collection<RunDoc>('pack_runs').findOne({ _id: 'run-1' });
    expect((run?.steps as Document[]).map((s) => [s.stepId, s.kind, s.status])).toEqual([
      ['approve', kind, status],
      ['build', enumStyle === 'number' ? 1 : 'Run', status],
    ]);
    expect((await t.db.collection('pack_run_approvals').findOne({}))?.status).toBe(approvalStatus);
    expect(await t.db.collection('pack_run_approvals').countDocuments({ status: { $type: bsonType } })).toBe(1);
    expect(await t.db.collection('pack_runs').countDocuments({ 'steps.kind': { $type: bsonType } })).toBe(1);
  });
});
