/**
 * Configuration as the service has it, through the built CLI: the worker's appsettings (Worker
 * section), the .NET environment layer (appsettings.Production.json) by --environment and by
 * DOTNET_ENVIRONMENT, and the usage errors (exit 2, no stack trace) for a fragment, a missing file
 * and web/worker sections that disagree.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanTreeSpec, makeSourceTree, type SourceTree } from '../helpers/source-tree.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const UNREACHABLE = 'mongodb://127.0.0.1:1/unreachable?serverSelectionTimeoutMS=1000';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The parent's environment without any setting this file is about, so only what a test passes counts. */
function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(taskrunner|worker)__|^(dotnet|aspnetcore)_environment$/i.test(name)));
}

function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...baseEnv(), ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function records(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDb(prefix: string): Promise<TestDb> {
  const t = await openTestDb(prefix);
  cleanups.push(() => t.drop());
  return t;
}

async function folder(files: Record<string, string | object>, prefix = 'backfill-e2e-config-'): Promise<SourceTree> {
  const tree = await makeSourceTree(files as never, prefix);
  cleanups.push(() => tree.remove());
  return tree;
}

const noStackTrace = (text: string): void => expect(text).not.toMatch(/\n\s+at /);

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
});

describe('configuration as the service has it', () => {
  it("a worker's appsettings.json (Worker:Storage:Mongo) gives the connection: import succeeds and the log says where it came from", async () => {
    const t = await freshDb('e2e_worker_cfg');
    const source = await folder(cleanTreeSpec());
    const config = await folder({ 'appsettings.json': { Worker: { Storage: { Mode: 'mongo', Mongo: { ConnectionString: t.uri, RunsCollection: 'worker_runs' } } } } });
    const result = await cli(['import', '--source', source.root, '--config', config.path('appsettings.json'), '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ database: { name: t.dbName }, totals: { inserted: 5 } });
    expect(await t.db.collection('worker_runs').countDocuments({})).toBe(1);
    const read = records(result.stderr).find((record) => String(record.msg).startsWith('configuration read from'));
    expect(read).toMatchObject({ configFiles: [config.path('appsettings.json')], connectionStringFrom: `Worker:Storage:Mongo:ConnectionString in ${config.path('appsettings.json')}` });
  });

  it('appsettings.Production.json is layered over appsettings.json with --environment Production or DOTNET_ENVIRONMENT=Production, not without', async () => {
    const t = await freshDb('e2e_env_layer');
    const source = await folder(cleanTreeSpec());
    const config = await folder({
      'appsettings.json': { TaskRunner: { Storage: { Mongo: { ConnectionString: UNREACHABLE, RunsCollection: 'layered_runs' } } } },
      'appsettings.Production.json': { TaskRunner: { Storage: { Mongo: { ConnectionString: t.uri } } } },
    });
    const base = config.path('appsettings.json');

    const byFlag = await cli(['import', '--source', source.root, '--config', base, '--environment', 'Production', '--json']);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(JSON.parse(byFlag.stdout)).toMatchObject({ database: { name: t.dbName } });
    expect(await t.db.collection('layered_runs').countDocuments({})).toBe(1); // RunsCollection from the base file still applies
    expect(records(byFlag.stderr).find((record) => String(record.msg).startsWith('configuration read from'))).toMatchObject({
      configFiles: [base, config.path('appsettings.Production.json')],
      environment: 'Production (--environment)',
    });

    const byVariable = await cli(['import', '--source', source.root, '--config', base, '--json'], { DOTNET_ENVIRONMENT: 'Production', ASPNETCORE_ENVIRONMENT: 'Staging' });
    expect(byVariable.code, byVariable.stderr).toBe(0);
    expect(records(byVariable.stderr).find((record) => String(record.msg).startsWith('configuration read from'))).toMatchObject({
      environment: 'Production (DOTNET_ENVIRONMENT)',
    });

    const without = await cli(['import', '--source', source.root, '--config', base, '--json']);
    expect(without.code).toBe(1); // only the base file: the unreachable server
    expect(without.stderr).toContain('DB_CONNECT_FAILED');
    expect(records(without.stderr).some((record) => record.level === 40 && String(record.msg).includes('appsettings.Production.json was not read'))).toBe(true);
  });

  it("the spec's snippet pasted without braces: exit 2 with file:line:column and the hint, no stack trace", async () => {
    const config = await folder({ 'appsettings.json': '"TaskRunner": {\n  "Storage": {\n    "Mongo": { "ConnectionString": "mongodb://h/db" }\n  }\n}\n' });
    const result = await cli(['import', '--source', 'fixtures/sample', '--config', config.path('appsettings.json')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${config.path('appsettings.json')}:1:13:`);
    expect(result.stderr).toContain('This looks like a fragment');
    expect(result.stderr).toContain('wrap the whole file in { }');
    noStackTrace(result.stderr);
  });

  it('a missing config file: exit 2 (usage), one line naming it and how to fix it, no stack trace', async () => {
    const config = await folder({ 'appsettings.json': '{}' });
    const missing = path.join(config.root, 'appsetings.json');
    const commands = [
      ['import', '--source', 'fixtures/sample', '--uri', UNREACHABLE],
      ['verify', '--source', 'fixtures/sample', '--uri', UNREACHABLE],
      ['plan', '--source', 'fixtures/sample'],
      ['status', '--uri', UNREACHABLE],
    ];
    for (const command of commands) {
      const result = await cli([...command, '--config', missing]);
      expect(result.code, command.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      const [first] = result.stderr.split('\n');
      expect(first).toBe(`taskrunner-backfill: --config ${missing}: no such file. Check the path (relative paths start from the current folder), or leave --config out and pass --uri`);
      expect(result.stderr).not.toContain('CONFIG_UNREADABLE');
      noStackTrace(result.stderr);
    }
  });

  it('web and worker sections that point at different databases: exit 2 naming both, password hidden', async () => {
    const config = await folder({
      'appsettings.json': {
        TaskRunner: { Storage: { Mongo: { ConnectionString: 'mongodb://u:s3cretpw@db1:27017/taskrunner' } } },
        Worker: { Storage: { Mongo: { ConnectionString: 'mongodb://u:s3cretpw@db2:27017/taskrunner' } } },
      },
    });
    const result = await cli(['import', '--source', 'fixtures/sample', '--config', config.path('appsettings.json')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TaskRunner:Storage:Mongo:ConnectionString');
    expect(result.stderr).toContain('Worker:Storage:Mongo:ConnectionString');
    expect(result.stderr).toContain('Both services must use the same database');
    expect(result.stderr).not.toContain('s3cretpw');
  });
});
