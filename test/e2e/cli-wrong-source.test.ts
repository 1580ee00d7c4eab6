/**
 * A --source that is not the provider's root (`fixtures/sample/logs`): import, verify and plan
 * refuse it as a usage error (exit 2, one line naming the expected layout and the likely root)
 * before touching the database, instead of "every record is accounted for" and a green PASSED.
 * `--allow-empty` lets an operator go on on purpose.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const WRONG = path.join(SAMPLE, 'logs');
const LAYOUT = "The provider's layout, relative to --source: state/runs/*.json, logs/runs/*.ndjson, state/approvals/*.json, artifacts/*/artifact-manifest.json.";

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner|^worker__/i.test(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

let t: TestDb;
beforeAll(async () => {
  t = await openTestDb('cli_wrong_source');
});
afterAll(async () => {
  await t?.drop();
});

function expectLayoutUsageError(result: CliResult): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  const first = result.stderr.split('\n')[0] ?? '';
  expect(first).toContain(`taskrunner-backfill: no run state file under --source ${WRONG} (nothing matches state/runs/*.json).`);
  expect(first).toContain(LAYOUT);
  expect(first).toContain(`--source looks like the tree's logs/ folder: did you mean --source ${SAMPLE}?`);
  expect(first).toContain('Pass --allow-empty to go on anyway.');
}

describe('a --source with no run state file', () => {
  it('import: exit 2 before connecting; nothing is written', async () => {
    expectLayoutUsageError(await cli(['import', '--source', WRONG, '--uri', t.uri, '--json']));
    expect(await t.db.listCollections().toArray()).toEqual([]);
  });

  it('verify: exit 2, never a PASSED', async () => {
    const result = await cli(['verify', '--source', 'fixtures/sample/logs', '--uri', t.uri]);
    expectLayoutUsageError(result);
    expect(result.stdout).not.toContain('PASSED');
  });

  it('plan: exit 2', async () => {
    expectLayoutUsageError(await cli(['plan', '--source', WRONG]));
  });

  it('--allow-empty: the import goes on (and finds nothing to import)', async () => {
    const result = await cli(['import', '--source', WRONG, '--uri', t.uri, '--json', '--quiet', '--allow-empty']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { files: Record<string, number> };
    expect(report.files).toMatchObject({ runs: 0, logs: 0, approvals: 0, artifacts: 0 });
  });

  it('the run state glob named with --runs-glob is the one checked', async () => {
    const result = await cli(['plan', '--source', SAMPLE, '--runs-glob', 'runstate/*.json']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('(nothing matches runstate/*.json)');
  });
});
