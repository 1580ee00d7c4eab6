/**
 * The npm package as a user gets it: `npm pack` on a copy of the repository's files (as a clean
 * clone has them: no dist/, so `prepack` must build), the tarball's contents, an install into an
 * empty folder, `npx taskrunner-backfill --help` there, and an import of fixtures/sample run from a
 * folder outside the repository against the test server.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dumpDatabase, dumpText } from '../helpers/dump.js';
import { cleanEnv, runProcess, type ProcessResult } from '../helpers/run-process.js';
import { testDatabases } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const databases = testDatabases({ useBigInt64: true });

let work: string;
let tarball: string;
let packedFiles: string[];
/** The folder the tarball was installed into: its node_modules/.bin holds the command. */
let installed: string;
let npmInstall: ProcessResult;

/** npm without the variables of the `npm test` that runs us, which would point it at this repository. */
function npm(args: readonly string[], cwd: string): Promise<ProcessResult> {
  return runProcess(NPM, args, { cwd, env: cleanEnv(), timeoutMs: 240_000 });
}

/** The repository's files as a clean clone has them: tracked, plus new files not ignored (dist/ is ignored). */
async function copyOfRepository(to: string): Promise<void> {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  for (const relative of listed.toString('utf8').split('\0').filter((name) => name !== '')) {
    await mkdir(path.dirname(path.join(to, relative)), { recursive: true });
    await cp(path.join(REPO, relative), path.join(to, relative), { errorOnExist: false, force: true }).catch((error: NodeJS.ErrnoException) => {
      // A file deleted in the working tree but still tracked: a clean clone of the next commit lacks it too.
      if (error.code !== 'ENOENT') throw error;
    });
  }
  // The devDependencies prepack needs (tsc), as `npm ci` would have installed them.
  await symlink(path.join(REPO, 'node_modules'), path.join(to, 'node_modules'), 'dir');
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'trb-pack-'));
  const clone = path.join(work, 'clone');
  await copyOfRepository(clone);
  const packs = path.join(work, 'packs');
  await mkdir(packs);
  const pack = await npm(['pack', '--json', '--pack-destination', packs], clone);
  expect(pack.code, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no package: ${pack.stdout}`);
  tarball = path.join(packs, info.filename);
  packedFiles = info.files.map((file) => file.path).sort();

  // An empty folder, as a user would start: install the tarball, dependencies from the registry
  // (or npm's cache: --prefer-offline), no devDependencies.
  installed = path.join(work, 'empty-folder');
  await mkdir(installed);
  npmInstall = await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', tarball], installed);
}, 300_000);

afterAll(async () => {
  await databases.dropAll();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe('npm pack on a clean clone', () => {
  test('prepack builds dist/src; the package holds the compiled code and its types, nothing else', () => {
    expect(packedFiles).toContain('dist/src/cli/main.js');
    expect(packedFiles).toContain('dist/src/index.js');
    expect(packedFiles).toContain('dist/src/index.d.ts');
    expect(packedFiles).toContain('dist/src/runtime/workers/self-check-worker.js');
    expect(packedFiles).toContain('package.json');
    expect(packedFiles).toContain('README.md');
    const outside = packedFiles.filter((file) => !file.startsWith('dist/src/') && file !== 'package.json' && file !== 'README.md');
    expect(outside, 'only dist/src, package.json and README.md').toEqual([]);
    expect(packedFiles.filter((file) => file.endsWith('.map')), 'no source maps (they name src/*.ts, which is not shipped)').toEqual([]);
    expect(packedFiles.filter((file) => /^dist\/(test|scripts)\//.test(file) || file.includes('test-server')), 'no test helpers or dev scripts').toEqual([]);
    // Every .js has its .d.ts (the programmatic API's types refer across modules).
    const missingTypes = packedFiles.filter((file) => file.endsWith('.js') && !packedFiles.includes(file.replace(/\.js$/, '.d.ts')));
    expect(missingTypes).toEqual([]);
  });
});

describe('the tarball installed into an empty folder', () => {
  test('npm install of the tarball succeeds and pulls only the runtime dependencies', async () => {
    expect(npmInstall.code, npmInstall.stderr).toBe(0);
    const modules = await readdir(path.join(installed, 'node_modules'));
    expect(modules).toContain('taskrunner-backfill');
    expect(modules).toContain('mongodb');
    for (const dev of ['typescript', 'vitest', 'esbuild', 'postject', 'mongodb-memory-server', 'fast-check']) expect(modules).not.toContain(dev);
  });

  test('npx taskrunner-backfill --help and --version work there', async () => {
    const help = await npm(['exec', '--no', '--', 'taskrunner-backfill', '--help'], installed);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('taskrunner-backfill <command> [options]');
    for (const command of ['preflight', 'schema', 'import', 'plan', 'verify', 'status', 'self-check']) expect(help.stdout).toContain(command);
    const version = await npm(['exec', '--no', '--', 'taskrunner-backfill', '--version'], installed);
    expect(version.code, version.stderr).toBe(0);
    const pkg = JSON.parse(await readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  }, 60_000);

  test('imports fixtures/sample from a folder outside the repository: exit 3 (its deliberate rejections), same documents as the repository CLI', async () => {
    const outside = path.join(work, 'elsewhere');
    await cp(SAMPLE, path.join(outside, 'sample'), { recursive: true });
    const bin = path.join(installed, 'node_modules', '.bin', 'taskrunner-backfill');
    const t = await databases.open('pack_import');
    const result = await runProcess(bin, ['import', '--source', 'sample', '--uri', t.uri, '--db', t.dbName, '--json'], { cwd: outside, env: cleanEnv() });
    expect(result.code, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as { totals: { inserted: number; rejected: number } };
    // fixtures/sample.expected.json: 9 + 65 + 5 + 9 documents, 4 + 3 + 6 + 2 rejections.
    expect(report.totals).toMatchObject({ inserted: 88, rejected: 15 });

    const reference = await databases.open('pack_reference');
    const repoCli = await runProcess(process.execPath, [path.join(REPO, 'dist/src/cli/main.js'), 'import', '--source', SAMPLE, '--uri', reference.uri, '--db', reference.dbName, '--json'], {
      cwd: REPO,
      env: cleanEnv(),
    });
    expect(repoCli.code, repoCli.stderr).toBe(3);
    expect(dumpText(await dumpDatabase(t.db))).toBe(dumpText(await dumpDatabase(reference.db)));
  }, 120_000);
});
