/**
 * `verify` scope and safety against the real server: it never writes (not even creating a
 * collection), `--sample` picks runs by state file, the comparison descends into nested fields
 * and compares dates at millisecond precision, and the Markdown and HTML reports escape data.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport } from '../../src/pipeline/run-import.js';
import { runVerify, type VerifyOptions } from '../../src/pipeline/run-verify.js';
import { renderVerifyHtml } from '../../src/report/render-verify-html.js';
import { renderVerifyMarkdown } from '../../src/report/render-verify-markdown.js';
import { renderVerifyText } from '../../src/report/render-verify-text.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const DATA_COLLECTIONS = ['pack_runs', 'pack_run_logs', 'pack_run_approvals', 'pack_artifacts'];

function options(source: string, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  const config = resolveConfig({ source }, {}, [], REPO);
  return { ...config, source, ...extra };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function testDb(prefix: string): Promise<TestDb> {
  const t = await openTestDb(prefix, { useBigInt64: true });
  cleanups.push(() => t.drop());
  return t;
}

/** A small source tree in os.tmpdir(), from relative path -> content. */
async function tree(files: Record<string, string | object>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'verify-scope-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  for (const [relativePath, content] of Object.entries(files)) {
    const absolute = path.join(root, relativePath);
    await mkdir(path.dirname(absolute), { recursive: true });
    await writeFile(absolute, typeof content === 'string' ? content : JSON.stringify(content));
  }
  return root;
}

function runState(runId: string, updatedAt = '2025-11-06T09:04:10.5+00:00'): object {
  return {
    runId,
    planHash: 'sha256:00',
    plan: { steps: [{ id: 'a', nested: { retries: 1 } }] },
    failurePolicy: { maxAttempts: 1, backoffSeconds: 0, continueOnError: false },
    requestedAt: '2025-11-06T09:00:00+00:00',
    createdAt: '2025-11-06T09:00:00.1234567+00:00',
    updatedAt,
    steps: [
      { stepId: 'a', kind: 'Run', enabled: true, status: 'Succeeded', attempts: 1, lastTransitionAt: '2025-11-06T09:01:00.9999999+00:00' },
      { stepId: 'b', kind: 'Run', enabled: true, status: 'Failed', attempts: 2, lastTransitionAt: '2025-11-06T09:02:00+00:00' },
    ],
  };
}

const log = (n: number): string => `{"timestamp":"2025-11-06T09:0${n}:00.1234567Z","level":"info","eventType":"e","message":"m${n}","metadata":{"k":"v${n}"}}`;

describe('verify never writes', () => {
  it('against an empty database: everything is missing, and no collection is created', async () => {
    const t = await testDb('verify_empty');
    const report = await runVerify(options(SAMPLE), { db: t.db, serverLabel: 'test' });
    expect(report.totals).toMatchObject({ expected: 88, found: 0, missing: 88, mismatched: 0, extra: 0 });
    expect(verifyExitCode(report)).toBe(3);
    expect(report.notCleanRuns).toBe(report.runsChecked);
    const collections = await t.db.listCollections({}, { nameOnly: true }).toArray();
    expect(collections.map((c) => c.name)).toEqual([]);
  });

  it('after an import: the data collections hold exactly what they held before', async () => {
    const t = await testDb('verify_readonly');
    await runImport({ ...options(SAMPLE), concurrency: 2, overwrite: false }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
    const snapshot = async (): Promise<string> => {
      const parts: string[] = [];
      for (const name of DATA_COLLECTIONS) {
        const docs = await t.db.collection(name).find({}).sort({ _id: 1 }).toArray();
        parts.push(JSON.stringify(docs, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
      }
      return parts.join('\n');
    };
    const before = await snapshot();
    const report = await runVerify(options(SAMPLE), { db: t.db, serverLabel: 'test' });
    expect(report.totals).toMatchObject({ missing: 0, mismatched: 0, rejected: 15 }); // the sample's rejections, not accepted here
    expect(await snapshot()).toBe(before);
  });
});

describe('verify compares field by field', () => {
  it('names nested differences and compares dates at millisecond precision', async () => {
    const t = await testDb('verify_fields');
    const source = await tree({
      'state/runs/r1.json': runState('r1'),
      'state/runs/r2.json': runState('r2'),
      'logs/runs/r1.ndjson': `${log(1)}\n${log(2)}\n${log(3)}\n`,
    });
    await runImport({ ...options(source), concurrency: 1, overwrite: false }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
    const clean = await runVerify(options(source), { db: t.db, serverLabel: 'test' });
    expect(verifyExitCode(clean)).toBe(0);
    expect(clean.totals).toMatchObject({ expected: 5, found: 5 });

    // One millisecond later on a step date, a nested plan value, a metadata value; the same instant
    // written with another offset is no difference (a BSON date has no offset).
    const runs = t.db.collection('pack_runs');
    const r1 = await runs.findOne({ _id: 'r1' as never });
    const stepDate = (r1?.steps as Array<{ lastTransitionAt: Date }>)[0]?.lastTransitionAt as Date;
    expect(stepDate.toISOString()).toBe('2025-11-06T09:01:00.999Z');
    await runs.updateOne({ _id: 'r1' as never }, { $set: { 'steps.0.lastTransitionAt': new Date(stepDate.getTime() + 1), 'plan.steps.0.nested.retries': 2 } });
    await t.db.collection('pack_run_logs').updateOne({ runId: 'r1', sequence: 2n }, { $set: { 'metadata.k': 'changed' } });

    const report = await runVerify(options(source), { db: t.db, serverLabel: 'test' });
    expect(verifyExitCode(report)).toBe(3);
    const run = report.runs.find((candidate) => candidate.runId === 'r1');
    const runMismatch = run?.mismatches.find((m) => m.collection === 'runs');
    expect(runMismatch?.fields).toEqual(['plan', 'steps']);
    expect(runMismatch?.differences).toEqual([
      { path: 'plan.steps[0].nested.retries', file: '1', database: '2' },
      { path: 'steps[0].lastTransitionAt', file: '"2025-11-06T09:01:00.999Z"', database: '"2025-11-06T09:01:01.000Z"' },
    ]);
    expect(run?.mismatches.find((m) => m.collection === 'logs')).toMatchObject({
      key: '2',
      line: 2,
      differences: [{ path: 'metadata.k', file: '"v2"', database: '"changed"' }],
    });
    expect(report.runs.map((candidate) => candidate.runId)).toEqual(['r1']);
  });
});

describe('verify with a run fed by several files (custom glob)', () => {
  it('counts its extra documents from totals and says so', async () => {
    const t = await testDb('verify_multi');
    const line = (sequence: number): string => `{"sequence":${sequence},"timestamp":"2025-11-06T09:00:00Z","level":"info","eventType":"e","message":"m"}`;
    const source = await tree({
      'state/runs/r1.json': runState('r1'),
      'logs/a/r1.ndjson': `${line(1)}\n${line(2)}\n`,
      'logs/b/r1.ndjson': `${line(3)}\n`,
    });
    const custom = { globs: { ...options(source).globs, logs: 'logs/*/*.ndjson' } };
    await runImport({ ...options(source, custom), concurrency: 1, overwrite: false }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
    const clean = await runVerify(options(source, custom), { db: t.db, serverLabel: 'test' });
    expect(clean.totals).toMatchObject({ expected: 4, found: 4, extra: 0 });
    expect(verifyExitCode(clean)).toBe(0);

    await t.db.collection('pack_run_logs').insertOne({ runId: 'r1', sequence: 9n, message: 'by hand' });
    await t.db.collection('pack_run_logs').deleteOne({ runId: 'r1', sequence: 3n });
    const report = await runVerify(options(source, custom), { db: t.db, serverLabel: 'test' });
    const run = report.runs.find((candidate) => candidate.runId === 'r1');
    expect(run?.collections.logs).toMatchObject({ expected: 3, found: 2, missing: 1, extra: 1 });
    expect(run?.missing).toEqual([{ collection: 'logs', key: '3' }]);
    expect(run?.notes.join(' ')).toContain('counted from totals');
  });
});

describe('verify --sample', () => {
  it('verifies the runs of N state files drawn at random, and lists them', async () => {
    const t = await testDb('verify_sample');
    const files: Record<string, string | object> = {};
    for (const id of ['s1', 's2', 's3', 's4', 's5']) {
      files[`state/runs/${id}.json`] = runState(id);
      files[`logs/runs/${id}.ndjson`] = `${log(1)}\n${log(2)}\n`;
    }
    const source = await tree(files);
    await runImport({ ...options(source), concurrency: 1, overwrite: false }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
    await t.db.collection('pack_run_logs').deleteOne({ runId: 's5', sequence: 2n });

    // random() = 0 keeps the first files in path order: s1, s2.
    const sample = await runVerify(options(source, { sample: 2 }), { db: t.db, serverLabel: 'test', random: () => 0 });
    expect(sample.scope).toEqual({ kind: 'sample', size: 2, runIds: ['s1', 's2'] });
    expect(sample.runsChecked).toBe(2);
    expect(sample.totals).toMatchObject({ expected: 2 + 4, found: 6, missing: 0 });
    expect(sample.extraRuns.count).toBe(0);
    expect(verifyExitCode(sample)).toBe(0);

    // random() just under 1 swaps in the last file each time: s5, then s1 (moved there by the first swap).
    const other = await runVerify(options(source, { sample: 2 }), { db: t.db, serverLabel: 'test', random: () => 0.999 });
    expect(other.scope).toMatchObject({ runIds: ['s1', 's5'] });
    expect(other.totals.missing).toBe(1);
    expect(verifyExitCode(other)).toBe(3);
  });
});

describe('verify reports', () => {
  let t: TestDb;
  let source: string;
  beforeAll(async () => {
    t = await openTestDb('verify_reports', { useBigInt64: true });
    source = await mkdtemp(path.join(tmpdir(), 'verify-reports-'));
    const hostile = 'x<img src=y onerror=alert(1)>&"|`*_';
    await mkdir(path.join(source, 'state/runs'), { recursive: true });
    await writeFile(path.join(source, 'state/runs/good.json'), JSON.stringify(runState('good')));
    await runImport({ ...options(source), concurrency: 1, overwrite: false }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
    // Not imported: missing in the database.
    await writeFile(path.join(source, 'state/runs/hostile.json'), JSON.stringify(runState(hostile)));
  });
  afterAll(async () => {
    await t?.drop();
    if (source) await rm(source, { recursive: true, force: true });
  });

  it('renders text, Markdown and HTML with the totals and the differing runs, data escaped', async () => {
    const report = await runVerify(options(source), { db: t.db, serverLabel: 'mongodb://user:***@db.example/test' });
    expect(verifyExitCode(report)).toBe(3);
    expect(report.runs.map((run) => run.runId)).toEqual(['x<img src=y onerror=alert(1)>&"|`*_']);

    const text = renderVerifyText(report);
    expect(text).toMatch(/pack_runs\s+│ 2\s+│ 1\s+│ 1 /);
    expect(text).toContain('FAILED');

    const markdown = renderVerifyMarkdown(report, verifyExitCode(report));
    expect(markdown).toContain('**Result: FAILED**');
    expect(markdown).toMatch(/\| pack_runs \| 2 \| 1 \| 1 \| 0 \| 0 \| 0 \| 0 \|/);
    expect(markdown).toContain('x\\<img src=y onerror=alert(1)\\>\\&"\\|\\`\\*\\_');
    expect(markdown).not.toMatch(/[^\\]<img/);
    expect(markdown).toContain(`${report.tool.name} ${report.tool.version}`);
    expect(markdown).toContain(report.startedAt);

    const html = renderVerifyHtml(report, verifyExitCode(report));
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|src="http/i);
    expect(html).not.toContain('<img');
    expect(html).toContain('x&lt;img src=y onerror=alert(1)&gt;&amp;&quot;|`*_');
    expect(html).toMatch(/<td class="mono">pack_runs<\/td><td class="n">2<\/td><td class="n">1<\/td><td class="n bad">1<\/td>/);
    expect(html).toContain('FAILED');
  });
});
