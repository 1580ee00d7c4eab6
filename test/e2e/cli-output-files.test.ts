/**
 * The built CLI as a child process: the output files (`import --rejects`, `verify --report`) never
 * write into the source tree (symbolic links at every point of the path, a hard link, `--source`
 * given through a link), fail before any database work when their path is wrong, and when a write
 * fails mid-run (a full device, a file size limit) end the run cleanly with a stable code: the
 * import's session is not left `running`, no lease is left, and verify's summary still reaches
 * stdout. Issue 10, findings 2, 8 and 9.
 */
import { spawn } from 'node:child_process';
import { cp, link, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/report/status-report.js';
import { hashTree } from '../helpers/source-tree.js';
import { makeSyntheticTree } from '../helpers/synthetic-tree.js';
import { testDatabases, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');
/** Rejections the sample holds (fixtures/README.md). */
const SAMPLE_REJECTIONS = 15;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI. `fileSizeLimitKiB` starts it under `ulimit -f` with SIGXFSZ ignored, so a write
 * past the limit fails with EFBIG (a full disk as far as the tool can tell). stdout and stderr are
 * pipes, which the limit does not touch.
 */
function cli(args: readonly string[], options: { fileSizeLimitKiB?: number } = {}): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner/i.test(name)));
  const [command, argv] =
    options.fileSizeLimitKiB === undefined
      ? [process.execPath, [CLI, ...args]]
      : ['bash', ['-c', `trap '' XFSZ; ulimit -f ${options.fileSizeLimitKiB}; exec "$0" "$@"`, process.execPath, CLI, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** stderr without pino's JSON log lines: what the tool itself printed. */
function messages(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.length > 0 && !line.startsWith('{'));
}

/** A usage error: exit 2, one line on stderr that matches, no stack trace, nothing on stdout. */
function expectUsageError(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  expect(messages(result.stderr)).toHaveLength(1);
  expect(messages(result.stderr)[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
}

const databases = testDatabases({ useBigInt64: true });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => databases.dropAll());

/** A scratch folder with a copy of the sample (`src`) and an output folder (`out`). */
async function workspace(): Promise<{ dir: string; src: string; out: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'backfill-outputs-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  const out = path.join(dir, 'out');
  await cp(SAMPLE, src, { recursive: true });
  await mkdir(out);
  return { dir, src, out };
}

async function collectionNames(t: TestDb): Promise<string[]> {
  return (await t.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
}

async function status(t: TestDb): Promise<StatusReport> {
  const result = await cli(['status', '--uri', t.uri, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as StatusReport;
}

/** Files in a folder whose name marks them as the tool's temp files. */
async function tempFiles(folder: string): Promise<string[]> {
  return (await readdir(folder)).filter((name) => name.endsWith('.tmp'));
}

describe('output files never write into the source tree (issue 10, finding 2)', () => {
  it('refuses a path into --source through a symlinked alias of it (--rejects and --report), and --source given through a link', async () => {
    const t = await databases.open('out_alias');
    const { dir, src } = await workspace();
    const alias = path.join(dir, 'alias');
    await symlink(src, alias);
    const before = await hashTree(src);

    const logInSource = path.join(alias, 'logs/runs/run-7f3c.ndjson');
    expectUsageError(await cli(['import', '--source', src, '--uri', t.uri, '--rejects', logInSource]), /--rejects .*run-7f3c\.ndjson is inside --source/);
    const stateInSource = path.join(alias, 'state/runs/run-7f3c.json');
    expectUsageError(await cli(['import', '--source', src, '--uri', t.uri, '--rejects', stateInSource]), /is inside --source/);
    // The alias as --source, the real path as the target.
    expectUsageError(await cli(['import', '--source', alias, '--uri', t.uri, '--rejects', path.join(src, 'logs/runs/run-7f3c.ndjson')]), /is inside --source/);
    expectUsageError(await cli(['verify', '--source', src, '--uri', t.uri, '--report', path.join(alias, 'cutover.md')]), /--report .*cutover\.md is inside --source/);
    expectUsageError(await cli(['verify', '--source', alias, '--uri', t.uri, '--report', path.join(src, 'state', 'cutover.md')]), /is inside --source/);

    expect(await hashTree(src)).toEqual(before);
    // Refused before anything connected: no collection, no ledger.
    expect(await collectionNames(t)).toEqual([]);
  });

  it('refuses a target that is a symbolic link, to a source file or anywhere else', async () => {
    const t = await databases.open('out_link');
    const { dir, src, out } = await workspace();
    const before = await hashTree(src);
    const toSource = path.join(out, 'rejects.ndjson');
    await symlink(path.join(src, 'state/runs/run-7f3c.json'), toSource);
    expectUsageError(await cli(['import', '--source', src, '--uri', t.uri, '--rejects', toSource]), /--rejects .* is a symbolic link \(to .*run-7f3c\.json\)/);
    const elsewhere = path.join(dir, 'elsewhere.md');
    await writeFile(elsewhere, 'keep me\n');
    const toElsewhere = path.join(out, 'cutover.md');
    await symlink(elsewhere, toElsewhere);
    expectUsageError(await cli(['verify', '--source', src, '--uri', t.uri, '--report', toElsewhere]), /--report .* is a symbolic link/);
    expect(await readFile(elsewhere, 'utf8')).toBe('keep me\n');
    expect((await lstat(toElsewhere)).isSymbolicLink()).toBe(true);
    expect(await hashTree(src)).toEqual(before);
  });

  it('refuses a folder that a link inside the source points at (the scanner reads through such links)', async () => {
    const t = await databases.open('out_inner_link');
    const { src, out } = await workspace();
    await symlink(out, path.join(src, 'outputs'));
    expectUsageError(await cli(['import', '--source', src, '--uri', t.uri, '--rejects', path.join(out, 'rejects.ndjson')]), /inside the source tree: the link .*outputs in --source points there/);
    expect(await readdir(out)).toEqual([]);
  });

  it('replaces a hard link to a source file by a new file instead of writing through it', async () => {
    const t = await databases.open('out_hardlink');
    const { src, out } = await workspace();
    const sourceLog = path.join(src, 'logs/runs/run-7f3c.ndjson');
    const target = path.join(out, 'rejects.ndjson');
    await link(sourceLog, target);
    const before = await hashTree(src);
    const result = await cli(['import', '--source', src, '--uri', t.uri, '--json', '--quiet', '--rejects', target]);
    expect(result.code, result.stderr).toBe(3);
    expect(await hashTree(src)).toEqual(before);
    expect((await stat(sourceLog)).nlink).toBe(1);
    const lines = (await readFile(target, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(SAMPLE_REJECTIONS);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('reason');
    expect(JSON.parse(result.stdout)).toMatchObject({ rejectsFile: { path: target, written: true } });
    expect(await tempFiles(out)).toEqual([]);
  });

  it('refuses a folder, a missing folder and a file used as a folder before touching the database (exit 2)', async () => {
    const t = await databases.open('out_paths');
    const { dir, src, out } = await workspace();
    expectUsageError(await cli(['import', '--source', src, '--uri', t.uri, '--rejects', out]), /--rejects .*out is a folder; name a file in it/);
    expectUsageError(await cli(['import', '--source', src, '--uri', t.uri, '--rejects', path.join(dir, 'missing', 'r.ndjson')]), /the folder .*missing does not exist/);
    const file = path.join(dir, 'file.txt');
    await writeFile(file, '');
    expectUsageError(await cli(['import', '--source', src, '--uri', t.uri, '--rejects', path.join(file, 'r.ndjson')]), /a part of that path is a file, not a folder/);
    expectUsageError(await cli(['verify', '--source', src, '--uri', t.uri, '--report', path.join(dir, 'missing', 'cutover.md')]), /--report: the folder .*missing does not exist/);
    expect(await collectionNames(t)).toEqual([]);
  });

  it('two runs writing the same rejects file each leave a whole file, never a mix', async () => {
    const [a, b] = [await databases.open('out_twice_a'), await databases.open('out_twice_b')];
    const { src, out } = await workspace();
    const target = path.join(out, 'rejects.ndjson');
    const results = await Promise.all([a, b].map((t) => cli(['import', '--source', src, '--uri', t.uri, '--quiet', '--rejects', target])));
    for (const result of results) expect(result.code, result.stderr).toBe(3);
    const lines = (await readFile(target, 'utf8')).split('\n').filter((line) => line.length > 0);
    expect(lines).toHaveLength(SAMPLE_REJECTIONS);
    expect(new Set(lines).size).toBe(SAMPLE_REJECTIONS);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('file');
    expect(await tempFiles(out)).toEqual([]);
  });
});

describe('a --rejects file that fails ends the import cleanly (issue 10, finding 8)', () => {
  it('on /dev/full: [OUTPUT_WRITE_FAILED], exit 1, no stack trace; the session is not left running and the lease is released', async () => {
    const t = await databases.open('out_devfull');
    const { src } = await workspace();
    const result = await cli(['import', '--source', src, '--uri', t.uri, '--json', '--quiet', '--rejects', '/dev/full']);
    expect(result.code, result.stderr).toBe(1);
    expect(messages(result.stderr)).toEqual([expect.stringMatching(/^taskrunner-backfill: \[OUTPUT_WRITE_FAILED\] cannot write --rejects \/dev\/full: ENOSPC/)]);
    expect(result.stderr).not.toMatch(/\n\s+at |Unhandled|internal error/);
    // The summary still reaches stdout, saying the file was not written and giving the exit code.
    expect(JSON.parse(result.stdout)).toMatchObject({ exitCode: 1, rejectsFile: { path: '/dev/full', written: false } });
    const ledger = await status(t);
    expect(ledger.sessions[0]?.outcome).not.toBe('running');
    expect(ledger.leases).toEqual([]);
  });

  it('with a file size limit (EFBIG) mid-run on a regular file: stops reading, ends the session, leaves no lease, no temp file and no partial target; the next run completes', async () => {
    const t = await databases.open('out_efbig');
    const tree = await makeSyntheticTree({ runs: 40, linesPerRun: 100 });
    cleanups.push(() => tree.remove());
    // One broken line in every log: 40 rejections, the first ones early in the run.
    for (let index = 0; index < 40; index += 1) await writeFile(path.join(tree.root, tree.logPath(index)), '{"broken": \n', { flag: 'a' });
    const out = await mkdtemp(path.join(tmpdir(), 'backfill-efbig-'));
    cleanups.push(() => rm(out, { recursive: true, force: true }));
    const target = path.join(out, 'rejects.ndjson');

    const args = ['import', '--source', tree.root, '--uri', t.uri, '--json', '--quiet', '--batch-size', '50', '--concurrency', '2', '--rejects', target];
    const limited = await cli(args, { fileSizeLimitKiB: 1 });
    expect(limited.code, limited.stderr).toBe(1);
    expect(messages(limited.stderr)).toEqual([expect.stringMatching(/^taskrunner-backfill: \[OUTPUT_WRITE_FAILED\] cannot write --rejects .*rejects\.ndjson: EFBIG/)]);
    expect(limited.stderr).not.toMatch(/\n\s+at |internal error/);
    expect(JSON.parse(limited.stdout)).toMatchObject({ exitCode: 1, complete: false, rejectsFile: { written: false } });
    // Stopped reading mid-run: the session ended as interrupted (not left running).
    const ledger = await status(t);
    expect(ledger.sessions[0]?.outcome).toBe('interrupted');
    expect(ledger.leases).toEqual([]);
    expect(await t.db.collection('taskrunner_backfill_ledger').countDocuments({ kind: 'lease' })).toBe(0);
    expect(await readdir(out)).toEqual([]);

    const again = await cli(args);
    expect(again.code, again.stderr).toBe(3);
    const lines = (await readFile(target, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(40);
    expect(await readdir(out)).toEqual(['rejects.ndjson']);
  });
});

describe('a --report that cannot be written keeps the verify result (issue 10, finding 9)', () => {
  it('prints the summary, reports [REPORT_WRITE_FAILED] on stderr, exits 1 when the comparison passed and with its own code otherwise', async () => {
    const t = await databases.open('out_report');
    const { dir, src, out } = await workspace();
    const report = path.join(out, 'cutover.md');
    const verify = (extra: readonly string[], fileSizeLimitKiB?: number) =>
      cli(['verify', '--source', src, '--uri', t.uri, '--quiet', '--report', report, ...extra], fileSizeLimitKiB === undefined ? {} : { fileSizeLimitKiB });

    // Before any import everything is missing: the comparison's exit code (3) wins.
    const failed = await verify(['--json'], 1);
    expect(failed.code, failed.stderr).toBe(3);
    expect(JSON.parse(failed.stdout)).toMatchObject({ passed: false, exitCode: 3, reportFile: { path: report, written: false } });
    expect(messages(failed.stderr)).toEqual([expect.stringMatching(/^taskrunner-backfill: \[REPORT_WRITE_FAILED\] cannot write --report .*cutover\.md: EFBIG/)]);

    // The sample's deliberate rejections, reviewed and accepted, so that the comparison passes.
    const reviewed = path.join(dir, 'reviewed-rejects.ndjson');
    const imported = await cli(['import', '--source', src, '--uri', t.uri, '--quiet', '--rejects', reviewed]);
    expect(imported.code, imported.stderr).toBe(3);
    const accept = ['--accept-rejections', reviewed];

    // The comparison passes, the report cannot be written: exit 1, the summary still on stdout.
    const text = await verify(accept, 1);
    expect(text.code, text.stderr).toBe(1);
    expect(text.stdout).toMatch(/^PASSED/m);
    expect(messages(text.stderr)).toEqual([expect.stringMatching(/\[REPORT_WRITE_FAILED\].*EFBIG.*the summary above is complete/)]);
    expect(text.stderr).not.toMatch(/internal error|\n\s+at /);
    const json = await verify(['--json', ...accept], 1);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ passed: true, exitCode: 1, reportFile: { written: false } });
    expect(await readdir(out)).toEqual([]);

    // A full device reached through a link (devices are written directly): ENOSPC, same handling.
    const full = path.join(dir, 'full.md');
    await symlink('/dev/full', full);
    const onFull = await cli(['verify', '--source', src, '--uri', t.uri, '--quiet', '--json', '--report', full, ...accept]);
    expect(onFull.code).toBe(1);
    expect(JSON.parse(onFull.stdout)).toMatchObject({ passed: true, reportFile: { written: false } });
    expect(messages(onFull.stderr)).toEqual([expect.stringMatching(/\[REPORT_WRITE_FAILED\] cannot write --report .*full\.md: ENOSPC/)]);

    // And without a limit the report is written, atomically, and the summary says so.
    const written = await verify(['--json', ...accept]);
    expect(written.code, written.stderr).toBe(0);
    expect(JSON.parse(written.stdout)).toMatchObject({ passed: true, exitCode: 0, reportFile: { path: report, written: true } });
    expect(await readFile(report, 'utf8')).toContain('**Result: PASSED**');
    expect(await readdir(out)).toEqual(['cutover.md']);
  });
});
