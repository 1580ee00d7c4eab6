/**
 * The built CLI as a child process: operator mistakes are usage errors (exit 2) with one line on
 * stderr saying what is wrong and how to fix it, never a stack trace, never a password, and they
 * are caught before anything connects. Numbers out of range (issue 10, finding 6), database and
 * collection names MongoDB refuses (finding 11), and issue 11's operator mistakes: a missing
 * --source, a mistyped scheme, flag or command, a user without a password and no terminal.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NUMERIC_LIMITS } from '../../src/config/limits.js';
import { isFerretDb, testDatabases, withDatabase, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner/i.test(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env: { ...base, ...env }, timeout: 60_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** Runs many CLI calls, a few at a time (the machine has 2 cores shared with the server). */
async function cliAll(calls: ReadonlyArray<{ args: readonly string[]; env?: NodeJS.ProcessEnv }>): Promise<CliResult[]> {
  const results: CliResult[] = [];
  for (let start = 0; start < calls.length; start += 4) {
    results.push(...(await Promise.all(calls.slice(start, start + 4).map((call) => cli(call.args, call.env)))));
  }
  return results;
}

/** What the tool printed on stderr, without pino's JSON log lines. */
function messages(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.length > 0 && !line.startsWith('{'));
}

function expectUsageError(result: CliResult, pattern: RegExp, label = ''): void {
  expect(result.code, `${label}\n${result.stderr}`).toBe(2);
  const lines = messages(result.stderr);
  expect(lines, label).toHaveLength(1);
  expect(lines[0], label).toMatch(/^taskrunner-backfill: /);
  expect(lines[0], label).toMatch(pattern);
  expect(result.stderr, label).not.toMatch(/\n\s+at |internal error/);
  expect(result.stdout, label).toBe('');
}

const databases = testDatabases({ useBigInt64: true });
let t: TestDb;
let work: string;

beforeAll(async () => {
  t = await databases.open('usage_errors');
  work = await mkdtemp(path.join(tmpdir(), 'backfill-usage-'));
});

afterAll(async () => {
  await databases.dropAll();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Nothing was written: every case below must be refused before the tool connects. */
async function expectUntouched(): Promise<void> {
  expect(await t.db.listCollections({}, { nameOnly: true }).toArray()).toEqual([]);
}

describe('numeric options: one whole number in a documented range (issue 10, finding 6)', () => {
  it('refuses a huge --lease-ttl-seconds (a timer overflow) and 1e300 (a lease expiring in 1970) before connecting', async () => {
    for (const value of ['10000000', '1e300', '4', '0', '-1', '0.5', 'NaN']) {
      const result = await cli(['import', '--source', SAMPLE, '--uri', t.uri, '--lease-ttl-seconds', value]);
      expectUsageError(result, /--lease-ttl-seconds must be one whole number from 5 to 86,400 seconds/, value);
    }
    expectUsageError(await cli(['import', '--source', SAMPLE, '--uri', t.uri, '--lease-ttl-seconds', '60', '--lease-ttl-seconds', '90']), /--lease-ttl-seconds must be .* \(got 2 values: 60, 90; give it once\)/);
    await expectUntouched();
  });

  it('refuses 1e300, -1, 0, 0.5, NaN and a flag given twice for every numeric option, naming its range', async () => {
    const flags: Array<{ command: 'import' | 'verify'; setting: keyof typeof NUMERIC_LIMITS }> = [
      { command: 'import', setting: 'batchSize' },
      { command: 'import', setting: 'batchBytes' },
      { command: 'import', setting: 'concurrency' },
      { command: 'import', setting: 'maxFileBytes' },
      { command: 'import', setting: 'maxLineBytes' },
      { command: 'import', setting: 'logsRetentionDays' },
      { command: 'import', setting: 'workers' },
      { command: 'verify', setting: 'sample' },
    ];
    const calls = flags.flatMap(({ command, setting }) => {
      const flag = `--${NUMERIC_LIMITS[setting].flag}`;
      const zero = NUMERIC_LIMITS[setting].min === 0 ? [] : [['0']];
      return [['1e300'], ['-1'], ...zero, ['0.5'], ['NaN'], [String(NUMERIC_LIMITS[setting].max + 1)], ['1', flag, '2']].map((values) => ({
        label: `${flag} ${values.join(' ')}`,
        range: new RegExp(`${flag} .*must be one whole number from ${NUMERIC_LIMITS[setting].min.toLocaleString('en-US')} to ${NUMERIC_LIMITS[setting].max.toLocaleString('en-US')}`),
        args: [command, '--source', SAMPLE, '--uri', t.uri, flag, ...values],
      }));
    });
    const results = await cliAll(calls);
    calls.forEach((call, index) => expectUsageError(results[index] as CliResult, call.range, call.label));
    await expectUntouched();
  });

  it('refuses a number out of range from a config file too, naming the key', async () => {
    const settings = path.join(work, 'numbers.json');
    await writeFile(settings, JSON.stringify({ TaskRunnerBackfill: { BatchSize: 1e300 } }));
    expectUsageError(await cli(['plan', '--source', SAMPLE, '--config', settings]), /--batch-size \(TaskRunnerBackfill:BatchSize\) must be one whole number from 1 to 100,000 \(got 1e\+300\)/);
  });

  it('a numeric flag without a value is an error, not the default', async () => {
    expectUsageError(await cli(['import', '--source', SAMPLE, '--uri', t.uri, '--batch-size']), /--batch-size needs a value/);
  });
});

describe('database and collection names: MongoDB\'s rules, before connecting (issue 10, finding 11)', () => {
  it('refuses bad names from flags with the rule they break', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--db', 'a.b'], /database name "a\.b" is not a valid MongoDB database name: it contains "\."/],
      [['--db', 'a/b'], /it contains "\/"/],
      [['--db', 'a b'], /it contains a space/],
      [['--db', 'x'.repeat(70)], /70 bytes long \(UTF-8\); MongoDB allows at most 63/],
      [['--db', 'ａ'.repeat(22)], /66 bytes long/], // 22 fullwidth letters: few characters, many bytes
      [['--ledger-collection', ''], /--ledger-collection needs a value/],
      [['--ledger-collection', '$ledger'], /ledger collection name "\$ledger" \(--ledger-collection\) is not valid: it contains "\$"/],
      [['--ledger-collection', 'system.profile'], /"system\." are reserved/],
      [['--ledger-collection', 'l'.repeat(250)], /bytes long \(UTF-8\); MongoDB allows at most 255 for database and collection name together/],
    ];
    const results = await cliAll(cases.map(([flags]) => ({ args: ['import', '--source', SAMPLE, '--uri', t.uri, ...flags] })));
    cases.forEach(([flags, pattern], index) => expectUsageError(results[index] as CliResult, pattern, flags.join(' ')));
    expectUsageError(await cli(['status', '--uri', t.uri, '--db', 'a.b']), /not a valid MongoDB database name/);
    expectUsageError(await cli(['verify', '--source', SAMPLE, '--uri', t.uri, '--ledger-collection', 'system.x']), /"system\." are reserved/);
    await expectUntouched();
  });

  it('refuses bad names from the environment, config files and the connection string\'s path', async () => {
    const settings = path.join(work, 'names.json');
    await writeFile(settings, JSON.stringify({ TaskRunner: { Storage: { Mongo: { ConnectionString: t.uri, RunsCollection: 'runs\u0000x' } } } }));
    const results = await cliAll([
      { args: ['import', '--source', SAMPLE, '--uri', t.uri], env: { TaskRunner__Storage__Mongo__LogsCollection: 'system.logs' } },
      { args: ['import', '--source', SAMPLE, '--uri', t.uri], env: { TaskRunner__Storage__Mongo__Database: 'a$b' } },
      { args: ['import', '--source', SAMPLE, '--config', settings] },
      { args: ['import', '--source', SAMPLE, '--uri', withDatabase(t.uri, 'a b'), '--db', t.dbName] },
    ]);
    expectUsageError(results[0] as CliResult, /logs collection name "system\.logs" \(TaskRunner:Storage:Mongo:LogsCollection\)/);
    expectUsageError(results[1] as CliResult, /database name "a\$b" is not a valid MongoDB database name: it contains "\$"/);
    expectUsageError(results[2] as CliResult, /runs collection name "runs\\u0000x" \(TaskRunner:Storage:Mongo:RunsCollection\) is not valid: it contains the NUL character/);
    expectUsageError(results[3] as CliResult, /the database in the connection string "a b" is not a valid MongoDB database name/);
    await expectUntouched();
  });

  it('warns about a look-alike character (it selects another database); a server that refuses the name is a usage error', async () => {
    const lookAlike = 'tаsk'; // Cyrillic "а"
    const result = await cli(['import', '--source', SAMPLE, '--uri', t.uri, '--db', lookAlike, '--quiet', '--json']);
    expect(result.stderr).toContain('U+0430');
    if (await isFerretDb(t.client)) {
      // FerretDB accepts fewer characters than MongoDB: its refusal is the operator's to fix.
      expectUsageError(result, /the server refuses the database name "tаsk"/);
    } else {
      expect(result.code, result.stderr).toBe(3);
      await t.client.db(lookAlike).dropDatabase();
    }
  });
});

describe('operator mistakes (issue 11)', () => {
  it('a missing or non-folder --source is a usage error for import, plan and verify', async () => {
    const missing = path.join(work, 'no-such-folder');
    const results = await cliAll([
      { args: ['import', '--source', missing, '--uri', t.uri] },
      { args: ['plan', '--source', missing] },
      { args: ['verify', '--source', missing, '--uri', t.uri] },
      { args: ['plan', '--source', path.join(REPO, 'package.json')] },
    ]);
    for (const result of results.slice(0, 3)) expectUsageError(result, /--source .*no-such-folder does not exist; pass the root folder of the filesystem provider's tree/);
    expectUsageError(results[3] as CliResult, /--source .*package\.json is a file, not a folder/);
    await expectUntouched();
  });

  it('a mistyped scheme is one line naming the fix, without the password (flag or environment)', async () => {
    const uri = 'mongdb://backfill:hunter2@127.0.0.1:1/x';
    const results = await cliAll([
      { args: ['import', '--source', SAMPLE, '--uri', uri] },
      { args: ['import', '--source', SAMPLE, '--uri', uri, '--db', 'x'] },
      { args: ['status', '--uri', uri, '--db', 'x'] },
      { args: ['verify', '--source', SAMPLE], env: { TaskRunner__Storage__Mongo__ConnectionString: uri } },
    ]);
    for (const result of results) {
      expectUsageError(result, /the connection string must start with "mongodb:\/\/" or "mongodb\+srv:\/\/" \(it starts with "mongdb:\/\/"\)/);
      expect(result.stderr).not.toContain('hunter2');
    }
  });

  it('suggests the flag or command meant ("did you mean")', async () => {
    const results = await cliAll([
      { args: ['import', '--source', SAMPLE, '--bach-size', '5'] },
      { args: ['verify', '--source', SAMPLE, '--sampel', '3'] },
      { args: ['improt', '--source', SAMPLE] },
      { args: ['frobnicate'] },
    ]);
    expectUsageError(results[0] as CliResult, /unknown option "--bach-size"; did you mean --batch-size\?/);
    expectUsageError(results[1] as CliResult, /unknown option "--sampel"; did you mean --sample\?/);
    expectUsageError(results[2] as CliResult, /unknown command "improt"; did you mean "import"\?/);
    expectUsageError(results[3] as CliResult, /unknown command "frobnicate" \(the commands are preflight, schema, import, plan, verify, status/);
  });

  it('a user without a password and no terminal: exit 2 naming the environment override', async () => {
    const uri = withDatabase(t.uri, t.dbName).replace('mongodb://', 'mongodb://backfill@');
    const results = await cliAll([
      { args: ['import', '--source', SAMPLE, '--uri', uri] },
      { args: ['verify', '--source', SAMPLE, '--uri', uri] },
      { args: ['status', '--uri', uri] },
    ]);
    for (const result of results) {
      expectUsageError(result, /names user "backfill" but no password, and there is no terminal to ask for it: .*TaskRunner__Storage__Mongo__ConnectionString/);
    }
    await expectUntouched();
  });

  it('a single-valued flag given twice or given empty is a usage error, not a crash or the current folder', async () => {
    const results = await cliAll([
      { args: ['import', '--source', SAMPLE, '--source', SAMPLE, '--uri', t.uri] },
      { args: ['import', '--source=', '--uri', t.uri] },
      { args: ['import', '--source', SAMPLE, '--uri', t.uri, '--rejects', path.join(work, 'a'), '--rejects', path.join(work, 'b')] },
      { args: ['import', '--source', SAMPLE, '--uri', 'mongodb://u:hunter2@127.0.0.1:1/x', '--uri', 'mongodb://u:hunter2@127.0.0.1:1/y'] },
    ]);
    expectUsageError(results[0] as CliResult, /--source was given 2 times; give it once/);
    expectUsageError(results[1] as CliResult, /--source needs a value/);
    expectUsageError(results[2] as CliResult, /--rejects was given 2 times/);
    expectUsageError(results[3] as CliResult, /--uri was given 2 times/);
    expect((results[3] as CliResult).stderr).not.toContain('hunter2');
    await expectUntouched();
  });
});
