/**
 * The built CLI (`dist/src/cli/main.js`, built by `npm test` before vitest) run as a child process:
 * exit codes, what goes to stdout and stderr, configuration sources, and that the source tree is
 * never modified.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanTreeSpec, hashTree, makeSourceTree, type SourceTree } from '../helpers/source-tree.js';
import { openTestDb, withDatabase, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The parent's environment without any TaskRunner setting, so only what a test passes counts. */
function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner/i.test(name)));
}

function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: REPO, env: { ...baseEnv(), ...env }, timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

/** Every stderr line is a pino JSON record (level, time, msg). */
function expectPinoOnly(stderr: string): void {
  for (const line of lines(stderr)) {
    const record = JSON.parse(line) as Record<string, unknown>;
    expect(typeof record.level, line).toBe('number');
    expect(typeof record.time, line).toBe('number');
    expect(typeof record.msg, line).toBe('string');
  }
}

/** stdout is exactly one JSON object on one line; returns it parsed. */
function singleJson(stdout: string): Record<string, unknown> {
  expect(stdout.endsWith('\n')).toBe(true);
  expect(lines(stdout)).toHaveLength(1);
  const parsed = JSON.parse(stdout) as unknown;
  expect(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)).toBe(true);
  return parsed as Record<string, unknown>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDb(prefix: string): Promise<TestDb> {
  const t = await openTestDb(prefix, { useBigInt64: true });
  cleanups.push(() => t.drop());
  return t;
}

async function cleanTree(): Promise<SourceTree> {
  const tree = await makeSourceTree(cleanTreeSpec());
  cleanups.push(() => tree.remove());
  return tree;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
});

describe('taskrunner-backfill import (child process)', () => {
  it('imports fixtures/sample: exit 3, one JSON object on stdout, pino JSON on stderr, source untouched', async () => {
    const t = await freshDb('e2e_fixtures');
    const before = await hashTree(SAMPLE);
    expect(before.length).toBe(49);

    const result = await cli(['import', '--source', 'fixtures/sample', '--uri', t.uri, '--json']);
    expect(result.code, result.stderr).toBe(3);
    const report = singleJson(result.stdout);
    expect(report).toMatchObject({ command: 'import', complete: true, exitCode: 3 });
    expect(report.totals).toMatchObject({ inserted: 88, rejected: 15 });
    expect(report.orphanRunIds).toEqual(['release-train-77', 'run-e41d']);
    expect(result.stdout).not.toMatch(/"msg":/); // no log record on stdout
    expect(lines(result.stderr).length).toBeGreaterThan(0);
    expectPinoOnly(result.stderr);
    expect(await t.db.collection('pack_run_logs').countDocuments({})).toBe(65);

    expect(await hashTree(SAMPLE)).toEqual(before);
  });

  it('exits 0 for a clean tree and leaves it byte-identical', async () => {
    const t = await freshDb('e2e_clean');
    const tree = await cleanTree();
    const before = await hashTree(tree.root);
    const result = await cli(['import', '--source', tree.root, '--uri', t.uri, '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(singleJson(result.stdout)).toMatchObject({ exitCode: 0, totals: { inserted: 5, rejected: 0, conflict: 0 } });
    expectPinoOnly(result.stderr);
    expect(await hashTree(tree.root)).toEqual(before);

    // The readable summary without --json goes to stdout too; the logs stay on stderr.
    const again = await cli(['import', '--source', tree.root, '--uri', t.uri]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('pack_runs');
    expect(again.stdout).not.toMatch(/"level":\d/);
    expectPinoOnly(again.stderr);
  });

  it('prints help with exit 0', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('import');
    expect(top.stdout).toContain('Exit codes');
    const sub = await cli(['import', '--help']);
    expect(sub.code).toBe(0);
    for (const option of ['--source', '--uri', '--db', '--config', '--json', '--enum-style', '--overwrite', '--batch-size']) {
      expect(sub.stdout, option).toContain(option);
    }
  });

  it('exits 2 for an unknown option or a missing --source, naming the problem on stderr', async () => {
    const unknown = await cli(['import', '--source', 'fixtures/sample', '--uri', 'mongodb://127.0.0.1:1/x', '--bogus-option']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bogus-option/);
    expect(unknown.stdout).toBe('');
    const missing = await cli(['import', '--uri', 'mongodb://127.0.0.1:1/x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--source');
    expect(missing.stdout).toBe('');
  });

  it('exits 1 when the server cannot be reached', async () => {
    const result = await cli(['import', '--source', 'fixtures/sample', '--uri', 'mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=1500', '--json']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('DB_CONNECT_FAILED');
    expect(result.stdout).toBe('');
  });

  it('never shows the password of the connection string, raw or decoded', async () => {
    const raw = 'p%40ss%3Aw0rd%2Fx';
    const decoded = decodeURIComponent(raw);
    expect(decoded).toBe('p@ss:w0rd/x');
    const uri = `mongodb://backfill:${raw}@127.0.0.1:1/x?serverSelectionTimeoutMS=1500`;
    const runs = await Promise.all([
      cli(['import', '--source', 'fixtures/sample', '--uri', uri, '--json', '--log-level', 'trace']),
      cli(['import', '--source', 'fixtures/sample', '--log-level', 'trace'], { TaskRunner__Storage__Mongo__ConnectionString: uri }),
    ]);
    for (const result of runs) {
      expect(result.code).toBe(1);
      const output = result.stdout + result.stderr;
      expect(output).toContain('backfill'); // the user name is fine to show
      for (const secret of [raw, decoded, 'p%40ss', 'w0rd']) expect(output).not.toContain(secret);
    }
  });

  it('honours --config appsettings.json (with // comments): connection string, database and collection names', async () => {
    const t = await freshDb('e2e_config');
    const tree = await cleanTree();
    const unusedDb = `${t.dbName}_unused`;
    cleanups.push(async () => {
      await t.client.db(unusedDb).dropDatabase();
    });
    const appsettings = `{
  // The service's own configuration file.
  "TaskRunner": {
    "Storage": {
      "Mode": "mongo", // the importer ignores this
      "Mongo": {
        "ConnectionString": ${JSON.stringify(withDatabase(t.uri, unusedDb))},
        "Database": ${JSON.stringify(t.dbName)},
        "RunsCollection": "tr_runs",
        "LogsCollection": "tr_logs",
        "ArtifactsCollection": "tr_artifacts",
        "ApprovalsCollection": "tr_approvals",
      },
    },
  },
}
`;
    const configDir = await makeSourceTree({ 'appsettings.json': appsettings }, 'backfill-config-');
    cleanups.push(() => configDir.remove());

    const result = await cli(['import', '--source', tree.root, '--config', configDir.path('appsettings.json'), '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = singleJson(result.stdout);
    expect(report.database).toMatchObject({ name: t.dbName });
    const names = (await t.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['tr_runs', 'tr_logs', 'tr_artifacts', 'tr_approvals']));
    expect(names.filter((name) => name.startsWith('pack_'))).toEqual([]);
    expect(await t.db.collection('tr_runs').countDocuments({})).toBe(1);
    expect(await t.db.collection('tr_logs').countDocuments({})).toBe(2);
    expect(await t.db.collection('tr_approvals').countDocuments({})).toBe(1);
    expect(await t.db.collection('tr_artifacts').countDocuments({})).toBe(1);
    expect(await t.client.db(unusedDb).collection('tr_runs').countDocuments({})).toBe(0);
  });

  it('honours TaskRunner__Storage__Mongo__ConnectionString from the environment', async () => {
    const t = await freshDb('e2e_env');
    const tree = await cleanTree();
    const result = await cli(['import', '--source', tree.root, '--json'], { TaskRunner__Storage__Mongo__ConnectionString: t.uri });
    expect(result.code, result.stderr).toBe(0);
    expect(singleJson(result.stdout)).toMatchObject({ database: { name: t.dbName } });
    expect(await t.db.collection('pack_runs').countDocuments({})).toBe(1);
    expect(await t.db.collection('pack_run_logs').countDocuments({})).toBe(2);
  });
});
