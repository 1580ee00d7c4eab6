/**
 * The single executable (`npm run package`), built here by the same script into a temporary folder
 * (a few seconds: no cache, so it is never a stale one), then carried to a folder of its own, as
 * onto an offline host: checked with `sha256sum -c`, run with a PATH that holds no `node` and no
 * node_modules anywhere above it. Every command, with the normal CLI's exit codes and documents;
 * the worker-thread helper in all three forms (dist/ under node, the bundle under node, the
 * executable).
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SelfCheckReport } from '../../src/cli/commands/self-check-command.js';
import { dumpDatabase, dumpText } from '../helpers/dump.js';
import { cleanEnv, runProcess, type ProcessResult } from '../helpers/run-process.js';
import { testDatabases, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const EXECUTABLE_NAME = `taskrunner-backfill-${process.platform}-${process.arch}`;
const databases = testDatabases({ useBigInt64: true });

let work: string;
/** The folder standing for the offline host: the executable, SHA256SUMS, the sample, reports. */
let host: string;
let executable: string;
let bundle: string;
let buildMs: number;

/** The executable as the offline host runs it: nothing on PATH but its own folder, cwd there. */
function sea(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> {
  return runProcess(executable, args, { cwd: host, env: { PATH: host, HOME: host, ...env }, timeoutMs: 60_000 });
}

/** The normal CLI under this Node, from the repository. */
function node(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, [CLI, ...args], { cwd: REPO, env: cleanEnv(env), timeoutMs: 60_000 });
}

function db(t: TestDb): string[] {
  return ['--uri', t.uri, '--db', t.dbName];
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'trb-sea-'));
  const out = path.join(work, 'release');
  const started = Date.now();
  const built = await runProcess(process.execPath, [path.join(REPO, 'dist/scripts/build-single-executable.js'), '--out-dir', out], { cwd: REPO, env: cleanEnv(), timeoutMs: 300_000 });
  buildMs = Date.now() - started;
  expect(built.code, built.stderr).toBe(0);
  console.log(`single executable built in ${(buildMs / 1000).toFixed(1)} s: ${built.stdout.trim()}`);
  bundle = path.join(out, 'build', 'taskrunner-backfill.cjs');

  host = path.join(work, 'offline-host');
  await mkdir(host);
  for (const file of [EXECUTABLE_NAME, 'SHA256SUMS']) await copyFile(path.join(out, file), path.join(host, file));
  executable = path.join(host, EXECUTABLE_NAME);
  execFileSync('chmod', ['755', executable]);
  await mkdir(path.join(host, 'data'));
  execFileSync('cp', ['-R', SAMPLE, path.join(host, 'data', 'sample')]);
}, 300_000);

afterAll(async () => {
  await databases.dropAll();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('the single executable on a host without Node.js', () => {
  test('the host folder has no node and no node_modules on the way up; SHA256SUMS checks with sha256sum -c', async () => {
    expect(await readdir(host)).toEqual(['SHA256SUMS', 'data', EXECUTABLE_NAME].sort());
    for (let dir = host; ; dir = path.dirname(dir)) {
      expect(await stat(path.join(dir, 'node_modules')).catch(() => null), `${dir}/node_modules`).toBeNull();
      if (path.dirname(dir) === dir) break;
    }
    const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: host }).toString();
    expect(check.trim()).toBe(`${EXECUTABLE_NAME}: OK`);
    // And the check can fail: one changed byte is caught.
    await copyFile(executable, path.join(host, 'tampered'));
    const bytes = await readFile(path.join(host, 'tampered'));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    await writeFile(path.join(host, 'tampered'), bytes);
    const sums = (await readFile(path.join(host, 'SHA256SUMS'), 'utf8')).replace(EXECUTABLE_NAME, 'tampered');
    await writeFile(path.join(host, 'TAMPERED.SUMS'), sums);
    expect(() => execFileSync('sha256sum', ['-c', 'TAMPERED.SUMS'], { cwd: host, stdio: 'pipe' })).toThrow();
    await rm(path.join(host, 'tampered'));
    await rm(path.join(host, 'TAMPERED.SUMS'));
    // No node on the PATH the executable is given.
    expect(await readdir(host)).not.toContain('node');
  });

  test('--version prints the package version, nothing on stderr (no experimental warning)', async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    const result = await sea(['--version']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(pkg.version);
    expect(result.stderr).toBe('');
  });

  test('--help is the npm package\'s, word for word, whatever the locale (yargs\' own labels too)', async () => {
    const german = { LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' };
    const [mine, theirs] = await Promise.all([sea(['--help'], german), node(['--help'], german)]);
    expect(theirs.stdout).toContain('Options:');
    expect(mine.code).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
  });

  test('import, plan, verify (HTML report) and status of fixtures/sample: the normal CLI\'s exit codes and documents', async () => {
    const t = await databases.open('sea_import');
    // --workers 2: the log files are read by the log-reader worker bundled in the executable.
    const imported = await sea(['import', '--source', 'data/sample', ...db(t), '--json', '--rejects', 'rejects.ndjson', '--workers', '2']);
    expect(imported.code, imported.stderr).toBe(3);
    expect(JSON.parse(imported.stdout)).toMatchObject({ complete: true, exitCode: 3, totals: { inserted: 88, rejected: 15 } });
    expect((await readFile(path.join(host, 'rejects.ndjson'), 'utf8')).trim().split('\n')).toHaveLength(15);
    // Every stderr line is a pino JSON record, as from the npm package.
    for (const line of imported.stderr.trim().split('\n')) expect(JSON.parse(line)).toHaveProperty('level');

    const reference = await databases.open('sea_reference');
    const referenceImport = await node(['import', '--source', SAMPLE, ...db(reference), '--json', '--workers', '0']);
    expect(referenceImport.code).toBe(imported.code);
    expect(dumpText(await dumpDatabase(t.db))).toBe(dumpText(await dumpDatabase(reference.db)));

    const [plan, referencePlan] = await Promise.all([sea(['plan', '--source', 'data/sample', '--json', '--workers', '2']), node(['plan', '--source', SAMPLE, '--json', '--workers', '0'])]);
    expect(plan.code, plan.stderr).toBe(referencePlan.code);
    expect((JSON.parse(plan.stdout) as { totals: unknown }).totals).toEqual((JSON.parse(referencePlan.stdout) as { totals: unknown }).totals);

    const verified = await sea(['verify', '--source', 'data/sample', ...db(t), '--report', 'cutover.html', '--json']);
    const referenceVerify = await node(['verify', '--source', SAMPLE, ...db(t), '--json']);
    expect(verified.code, verified.stderr).toBe(referenceVerify.code);
    expect(verified.code).toBe(3); // the sample's rejections are not accepted
    const totals = (result: ProcessResult): unknown => (JSON.parse(result.stdout) as { totals: unknown }).totals;
    expect(totals(verified)).toEqual(totals(referenceVerify));
    const html = await readFile(path.join(host, 'cutover.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('tenant-a:nightly/42');

    // Accepting the reviewed rejections makes both exit 0 alike.
    const accepted = await sea(['verify', '--source', 'data/sample', ...db(t), '--accept-rejections', 'rejects.ndjson', '--quiet']);
    expect(accepted.code, accepted.stderr).toBe(0);

    const status = await sea(['status', ...db(t), '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ sessions: [{ outcome: 'complete-with-issues' }] });
  }, 120_000);

  test('preflight and schema (create, then --check) with the normal CLI\'s exit codes and results', async () => {
    const t = await databases.open('sea_schema');
    const comparable = (result: ProcessResult): unknown => {
      const report = JSON.parse(result.stdout) as Record<string, unknown>;
      // What differs between two runs by nature: times, the tool's path to the source.
      return JSON.parse(JSON.stringify(report, (key, value: unknown) => (/^(startedAt|finishedAt|durationMs|ms|source|elapsedMs|at)$/.test(key) ? undefined : value)));
    };
    // One after the other: preflight probes write access in the ledger collection.
    const preflight = await sea(['preflight', '--source', 'data/sample', ...db(t), '--json', '--quiet']);
    const referencePreflight = await node(['preflight', '--source', SAMPLE, ...db(t), '--json', '--quiet']);
    expect(preflight.code, preflight.stderr).toBe(referencePreflight.code);
    const statuses = (result: ProcessResult): string[] => (JSON.parse(result.stdout) as { checks: Array<{ id: string; status: string }> }).checks.map((check) => `${check.id}: ${check.status}`);
    expect(statuses(preflight)).toEqual(statuses(referencePreflight));
    expect(statuses(preflight)).toContain('connection: pass');

    const schema = await sea(['schema', ...db(t), '--json', '--quiet']);
    expect(schema.code, schema.stderr).toBe(0);
    const [check, referenceCheck] = await Promise.all([sea(['schema', '--check', ...db(t), '--json', '--quiet']), node(['schema', '--check', ...db(t), '--json', '--quiet'])]);
    expect(check.code, check.stderr).toBe(referenceCheck.code);
    expect(comparable(check)).toEqual(comparable(referenceCheck));
  }, 120_000);

  test('a usage error is exit 2, as from the npm package', async () => {
    const result = await sea(['import', '--uri', 'mongodb://127.0.0.1:1/x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--source is required');
  });

  test('a connection that needs one of the driver\'s optional modules fails with exit 1 saying which and what to do', async () => {
    const t = await databases.open('sea_gssapi');
    const uri = t.uri.replace('mongodb://', 'mongodb://someone@') + (t.uri.includes('?') ? '&' : '?') + 'authMechanism=GSSAPI';
    const result = await sea(['import', '--source', 'data/sample', '--uri', uri, '--db', t.dbName, '--quiet']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[DRIVER_MODULE_MISSING]');
    expect(result.stderr).toContain('`kerberos`');
    expect(result.stderr).toContain('The single executable holds none of the MongoDB driver\'s optional modules');
  });
});

describe('startWorker: a worker thread from a named entry in every form of the tool', () => {
  const check = async (result: ProcessResult, runtime: SelfCheckReport['runtime']): Promise<void> => {
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as SelfCheckReport;
    expect(report).toMatchObject({ ok: true, runtime, worker: { entry: 'self-check', ok: true } });
    expect(report.worker.threadId).toBeGreaterThan(0);
  };

  test('under node, from dist/ (the npm package): the compiled worker module', async () => {
    await check(await node(['self-check', '--json']), 'node');
  });

  test('the bundle run by node: the worker\'s own bundle, read from beside it and run with eval', async () => {
    await check(await runProcess(process.execPath, [bundle, 'self-check', '--json'], { cwd: work, env: cleanEnv(), timeoutMs: 60_000 }), 'bundle');
  });

  test('inside the single executable: the worker bundle embedded as an asset (node:sea getAsset)', async () => {
    await check(await sea(['self-check', '--json']), 'single-executable');
    const text = await sea(['self-check']);
    expect(text.stdout).toContain('worker threads: ok: the "self-check" worker (embedded in the executable)');
  });

  test('the check can fail: a worker that cannot start is reported, exit 1', async () => {
    // The bundle without its worker file beside it: the same code path, nothing to run.
    const lonely = path.join(work, 'lonely');
    await mkdir(lonely, { recursive: true });
    await copyFile(bundle, path.join(lonely, 'taskrunner-backfill.cjs'));
    const result = await runProcess(process.execPath, [path.join(lonely, 'taskrunner-backfill.cjs'), 'self-check', '--json'], { cwd: work, env: cleanEnv(), timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, worker: { ok: false } });
    const text = await runProcess(process.execPath, [path.join(lonely, 'taskrunner-backfill.cjs'), 'self-check'], { cwd: work, env: cleanEnv(), timeoutMs: 60_000 });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/worker threads: FAILED: .*ENOENT/);
  });
});
