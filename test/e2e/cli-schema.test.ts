/**
 * `schema` and `schema --check` through the built CLI against the real server: the spec's steps
 * 1 and 2 on their own (idempotent), the comparison with its exit codes, a dropped unique index
 * failing both `schema --check` and `verify`, and an existing non-unique index stopping `import`
 * and `schema` before any write.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner|^worker__/i.test(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function json(result: CliResult): Record<string, any> {
  const lines = result.stdout.split('\n').filter((line) => line.length > 0);
  expect(lines, result.stderr).toHaveLength(1);
  return JSON.parse(lines[0] as string) as Record<string, any>;
}

const databases = testDatabases({ useBigInt64: true });
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cli-schema-'));
});
afterAll(async () => {
  await databases.dropAll();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('schema', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await databases.open('cli_schema');
  });

  it('creates the collections and indexes, unique first; a second run creates nothing; --check then exits 0', async () => {
    const first = await cli(['schema', '--uri', t.uri, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const created = json(first);
    expect(created).toMatchObject({ command: 'schema', mode: 'apply', stopped: null, exitCode: 0, check: { passed: true, uniqueKeysEnforced: true } });
    const indexes = (created.actions as Array<{ action: string; name?: string }>).filter((action) => action.action === 'created-index').map((action) => action.name);
    expect(indexes.slice(0, 3)).toEqual(['runId_1_sequence_1', 'runId_1_name_1', 'runId_1_approvalId_1']);
    expect(indexes).toHaveLength(8);

    const again = json(await cli(['schema', '--uri', t.uri, '--json', '--quiet']));
    expect((again.actions as Array<{ action: string }>).filter((action) => action.action.startsWith('created'))).toEqual([]);

    const check = await cli(['schema', '--check', '--uri', t.uri]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain('SCHEMA OK: nothing missing or differing in a way that matters');
    expect(check.stdout).toMatch(/pack_run_logs\s+│ index runId_1_sequence_1 \{ runId: 1, sequence: 1 \}\s+│ unique\s+│ unique\s+│ present/);
    // stdout is the result only; the log is on stderr.
    expect(check.stdout).not.toContain('"level"');
  });

  it('a dropped unique index: schema --check and verify exit 3 and say which key is not enforced', async () => {
    const reviewed = path.join(await mkdtemp(path.join(tmpdir(), 'cli-schema-')), 'reviewed-rejects.ndjson');
    const imported = await cli(['import', '--source', SAMPLE, '--uri', t.uri, '--json', '--quiet', '--rejects', reviewed]);
    expect(imported.code, imported.stderr).toBe(3); // the sample has rejections, reviewed and accepted below
    const accept = ['--accept-rejections', reviewed];
    expect((await cli(['verify', '--source', SAMPLE, '--uri', t.uri, '--quiet', ...accept])).code).toBe(0);

    await t.db.collection('pack_run_logs').dropIndex('runId_1_sequence_1');
    const check = await cli(['schema', '--check', '--uri', t.uri, '--json', '--quiet']);
    expect(check.code).toBe(3);
    const report = json(check);
    expect(report.check).toMatchObject({ passed: false, uniqueKeysEnforced: false, blocksImport: false });
    expect(report.check.items).toContainEqual(expect.objectContaining({ kind: 'index', collection: 'pack_run_logs', key: '{ runId: 1, sequence: 1 }', status: 'missing', severity: 'fail', failsVerify: true }));
    const text = await cli(['schema', '--check', '--uri', t.uri, '--quiet']);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain('SCHEMA INCOMPLETE: 1 missing');

    const reportFile = path.join(work, 'verify.html');
    const markdownFile = path.join(work, 'verify.md');
    const verify = await cli(['verify', '--source', SAMPLE, '--uri', t.uri, '--quiet', '--report', reportFile, ...accept]);
    expect(verify.code).toBe(3);
    expect(verify.stdout).toContain("FAILED: the spec's unique key is not enforced by a unique index: pack_run_logs { runId: 1, sequence: 1 } (no such index); 0 missing, 0 mismatched, 0 rejected and not accepted");
    expect(verify.stdout).toContain('Schema: SCHEMA INCOMPLETE');
    const asJson = json(await cli(['verify', '--source', SAMPLE, '--uri', t.uri, '--quiet', '--json', '--report', markdownFile, ...accept]));
    expect(asJson).toMatchObject({ passed: false, exitCode: 3, totals: { missing: 0, mismatched: 0 }, schemaCheck: { uniqueKeysEnforced: false } });
    expect(await readFile(reportFile, 'utf8')).toContain('<h2>Schema</h2>');
    expect(await readFile(markdownFile, 'utf8')).toContain('## Schema');

    // `schema` puts it back (no data was lost: the entries are unique), and verify passes again.
    expect((await cli(['schema', '--uri', t.uri, '--quiet'])).code).toBe(0);
    expect((await cli(['verify', '--source', SAMPLE, '--uri', t.uri, '--quiet', ...accept])).code).toBe(0);
  });
});

describe('an existing non-unique { runId: 1, sequence: 1 }', () => {
  it('import exits 1 with SCHEMA_CONFLICT and writes nothing; schema stops too (exit 3) and shows the comparison', async () => {
    const t = await databases.open('cli_schema_conflict');
    await t.db.collection('pack_run_logs').createIndex({ runId: 1, sequence: 1 }, { name: 'ux_logs_run_sequence' });
    const imported = await cli(['import', '--source', SAMPLE, '--uri', t.uri, '--json']);
    expect(imported.code).toBe(1);
    expect(imported.stdout).toBe('');
    expect(imported.stderr).toContain('[SCHEMA_CONFLICT] the database');
    expect(imported.stderr).toContain('pack_run_logs, index ux_logs_run_sequence on { runId: 1, sequence: 1 }: found plain (not unique); expected unique.');
    expect(imported.stderr).not.toContain('Index already exists with a different name');

    const schema = await cli(['schema', '--uri', t.uri, '--quiet']);
    expect(schema.code).toBe(3);
    expect(schema.stdout).toContain('Stopped before writing anything:');
    expect(schema.stdout).toContain('SCHEMA CONFLICT');
    expect((await t.db.listCollections({}, { nameOnly: true }).toArray()).map((entry) => entry.name)).toEqual(['pack_run_logs']);
    expect(await t.db.collection('pack_run_logs').countDocuments()).toBe(0);
  });
});
