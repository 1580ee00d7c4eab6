/**
 * `verify` and `plan` through the built CLI (`dist/src/cli/main.js`) as a child process, against
 * the real server: exit codes, stdout (text or one JSON object), stderr (pino lines only), the
 * Markdown and HTML report files, usage errors, and that `plan` counts what `import` then writes.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const ROLES = ['runs', 'logs', 'approvals', 'artifacts'] as const;
const NAMES = { runs: 'pack_runs', logs: 'pack_run_logs', approvals: 'pack_run_approvals', artifacts: 'pack_artifacts' } as const;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner/i.test(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env, timeout: 60_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function json(result: CliResult): Record<string, any> {
  const lines = result.stdout.split('\n').filter((line) => line.length > 0);
  expect(lines, result.stderr).toHaveLength(1);
  return JSON.parse(lines[0] as string) as Record<string, any>;
}

function expectPinoOnly(stderr: string): void {
  for (const line of stderr.split('\n').filter((l) => l.length > 0)) {
    const record = JSON.parse(line) as Record<string, unknown>;
    expect(typeof record.level, line).toBe('number');
    expect(typeof record.msg, line).toBe('string');
  }
}

let t: TestDb;
let work: string;
let source: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cli-verify-'));
  source = path.join(work, 'source');
  await cp(SAMPLE, source, { recursive: true });
  t = await openTestDb('cli_verify', { useBigInt64: true });
});

afterAll(async () => {
  await t?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('taskrunner-backfill plan, import, verify', () => {
  it('verify before any import: everything missing, exit 3, no collection created', async () => {
    const result = await cli(['verify', '--source', source, '--uri', t.uri, '--json', '--quiet']);
    expect(result.code).toBe(3);
    const report = json(result);
    expect(report.totals).toMatchObject({ expected: 88, found: 0, missing: 88 });
    expect(await t.db.listCollections({}, { nameOnly: true }).toArray()).toEqual([]);
  });

  it('plan gives the per-collection counts that import then writes', async () => {
    const plan = await cli(['plan', '--source', source, '--json', '--quiet']);
    expect(plan.code).toBe(3); // the sample has rejections
    const planned = json(plan);
    const imported = await cli(['import', '--source', source, '--uri', t.uri, '--json', '--quiet', '--rejects', path.join(work, 'rejects.ndjson')]);
    expect(imported.code, imported.stderr).toBe(3);
    const importReport = json(imported);
    for (const role of ROLES) {
      const stored = await t.db.collection(NAMES[role]).countDocuments();
      expect(planned.collections[role].inserted, role).toBe(stored);
      expect(importReport.collections[role].inserted, role).toBe(stored);
      expect(planned.collections[role].rejected, role).toBe(importReport.collections[role].rejected);
    }
    expect(planned.orphanRunIds).toEqual(importReport.orphanRunIds);
    expect(planned.files).toMatchObject({ ignored: 14 });
    const text = await cli(['plan', '--source', source, '--quiet']);
    expect(text.stdout).toContain('to write');
    expect(text.stdout).toContain('Orphans (files with no state file): release-train-77, run-e41d');
    expect(text.stdout).toContain('14 ignored');
  });

  it('verify after the import: the 15 rejected source records fail it until they are accepted', async () => {
    const unaccepted = await cli(['verify', '--source', source, '--uri', t.uri, '--quiet']);
    expect(unaccepted.code, unaccepted.stderr).toBe(3);
    expect(unaccepted.stdout).toMatch(/^15 source record\(s\) are not in the database: rejected and not accepted: .*invalid-json/m);
    expect(unaccepted.stdout).toMatch(/^FAILED: 0 missing, 0 mismatched, 15 rejected and not accepted/m);
  });

  it('verify after the import, with the reviewed rejects accepted: exit 0, every record accounted for, readable summary on stdout', async () => {
    const result = await cli(['verify', '--source', source, '--uri', t.uri, '--accept-rejections', path.join(work, 'rejects.ndjson')]);
    expect(result.code, result.stderr).toBe(0);
    expectPinoOnly(result.stderr);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toContain(`against ${t.dbName}`);
    const totalsAt = lines.findIndex((line) => line.startsWith('Totals:'));
    const runsAt = lines.findIndex((line) => line.startsWith('Runs that are not clean'));
    expect(totalsAt).toBeGreaterThan(0);
    expect(runsAt).toBeGreaterThan(totalsAt);
    expect(result.stdout).toMatch(/total\s+│ 88\s+│ 88\s+│ 0\s+│ 0\s+│ 0\s+│ 0\s+│ 0\s+│ 15\s+│/);
    expect(result.stdout).toMatch(/^15 source record\(s\) are not in the database: rejected and accepted as not imported: /m);
    expect(lines.at(-2)).toMatch(/^PASSED: every source record is in the database or accepted as not imported/);

    const asJson = json(await cli(['verify', '--source', source, '--uri', t.uri, '--json', '--quiet', '--accept-rejections', path.join(work, 'rejects.ndjson')]));
    expect(asJson).toMatchObject({ command: 'verify', passed: true, exitCode: 0, complete: true, unusedAcceptances: 0 });
    expect(asJson.totals).toMatchObject({ expected: 88, found: 88, missing: 0, mismatched: 0, extra: 0, keptNewer: 0, rejected: 0, accepted: 15 });
    expect(asJson.notInDatabase).toMatchObject({ total: 15, missing: 0, rejectedByReason: {} });
    // The ledger the import wrote is not a data collection: never counted as extra.
    expect(asJson.options.collections).toEqual(NAMES);
  });

  it('--strict fails on extra documents, which otherwise pass', async () => {
    const accept = ['--accept-rejections', path.join(work, 'rejects.ndjson'), '--quiet'];
    await t.db.collection('pack_run_logs').insertOne({ runId: 'run-7f3c', sequence: 999n, timestamp: new Date(), level: 'info', eventType: 'live', message: 'written by the service' });
    try {
      expect((await cli(['verify', '--source', source, '--uri', t.uri, ...accept])).code).toBe(0);
      const result = await cli(['verify', '--source', source, '--uri', t.uri, '--strict', ...accept]);
      expect(result.code).toBe(3);
      expect(result.stdout).toMatch(/FAILED: 0 missing, 0 mismatched, 0 rejected and not accepted; 15 rejected and accepted as not imported, 1 extra/);
    } finally {
      await t.db.collection('pack_run_logs').deleteOne({ runId: 'run-7f3c', sequence: 999n });
    }
  });

  it('after damage: exit 3, the damaged runs listed, Markdown and HTML reports written', async () => {
    await t.db.collection('pack_run_logs').deleteOne({ runId: 'run-7f3c', sequence: 5n });
    await t.db.collection('pack_artifacts').updateOne({ runId: 'deploy-2025-11-05-0017', name: 'canary-metrics' }, { $set: { status: 'pending' } });
    const markdownPath = path.join(work, 'verify.md');
    const htmlPath = path.join(work, 'verify.html');
    const result = await cli(['verify', '--source', source, '--uri', t.uri, '--quiet', '--report', markdownPath]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toContain('missing: pack_run_logs 5: in the source, not in the database');
    expect(result.stdout).toContain('mismatched: pack_artifacts canary-metrics: differs in status');
    expect(result.stdout).toMatch(/status: file "\w+" \| database "pending"/);
    expect(result.stdout).toMatch(/^FAILED: 1 missing, 1 mismatched/m);

    const markdown = await readFile(markdownPath, 'utf8');
    expect(markdown).toContain('**Result: FAILED** (exit code 3)');
    expect(markdown).toMatch(/\| \*\*total\*\* \| 88 \| 87 \| 1 \| 1 \| 0 \| 0 \| 15 \| 0 \|/);
    expect(markdown).toContain('### run-7f3c');
    expect(markdown).toContain('### deploy-2025-11-05-0017');
    expect(markdown).toContain('| **Tool** | taskrunner-backfill ');

    const html = await cli(['verify', '--source', source, '--uri', t.uri, '--quiet', '--json', '--report', htmlPath]);
    expect(html.code).toBe(3);
    const report = json(html);
    const page = await readFile(htmlPath, 'utf8');
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(page).toContain('<span class="verdict failed">FAILED</span>');
    expect(page).toContain('>run-7f3c</a>');
    expect(page).toContain(report.startedAt as string);
    expect(page).not.toMatch(/<script|<link /);
    // Written atomically: no temp file left beside the reports.
    expect((await readdir(work)).filter((name) => name !== 'config').sort()).toEqual(['rejects.ndjson', 'source', 'verify.html', 'verify.md']);
  });

  it('--run narrows the verification to the named runs', async () => {
    const accept = ['--accept-rejections', path.join(work, 'rejects.ndjson')];
    const clean = await cli(['verify', '--source', source, '--uri', t.uri, '--quiet', '--json', '--run', 'nightly-scan-1187', '--run', 'run-e41d', ...accept]);
    expect(clean.code).toBe(0);
    expect(json(clean)).toMatchObject({ scope: { kind: 'runs', runIds: ['nightly-scan-1187', 'run-e41d'] }, runsChecked: 2 });
    const damaged = await cli(['verify', '--source', source, '--uri', t.uri, '--quiet', '--run', 'run-7f3c']);
    expect(damaged.code).toBe(3);
  });

  it('takes the connection and the source from --config (appsettings)', async () => {
    const settings = path.join(work, 'config', 'appsettings.json');
    await mkdir(path.dirname(settings), { recursive: true });
    await writeFile(settings, JSON.stringify({ TaskRunner: { Storage: { Mongo: { ConnectionString: t.uri } } }, TaskRunnerBackfill: { Source: '../source' } }));
    const result = await cli(['verify', '--config', settings, '--quiet', '--json', '--run', 'run-e41d']);
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ source, database: { name: t.dbName }, runsChecked: 1, totals: { expected: 5, found: 5 } });
  });

  it('usage errors exit 2 with a message', async () => {
    const both = await cli(['verify', '--source', source, '--uri', t.uri, '--run', 'a', '--sample', '2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--run and --sample cannot be combined');
    const badReport = await cli(['verify', '--source', source, '--uri', t.uri, '--report', path.join(work, 'report.txt')]);
    expect(badReport.code).toBe(2);
    expect(badReport.stderr).toContain('.md (Markdown) or .html (HTML)');
    const insideSource = await cli(['verify', '--source', source, '--uri', t.uri, '--report', path.join(source, 'report.md')]);
    expect(insideSource.code).toBe(2);
    const badSample = await cli(['verify', '--source', source, '--uri', t.uri, '--sample', '0']);
    expect(badSample.code).toBe(2);
    const noDatabase = await cli(['verify', '--source', source]);
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.stderr).toContain('no connection string');
  });
});
