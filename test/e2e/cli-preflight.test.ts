/**
 * `preflight` through the built CLI against the real server: the checklist on fixtures/sample,
 * on a wrong --source (fixtures/sample/logs), on an unreachable server, with a schema conflict and
 * with a lease held; and that it writes nothing but its deleted probe.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/test-db.js';
import type { Document } from 'mongodb';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Check {
  id: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  summary: string;
  details: string[];
}

function cli(args: readonly string[]): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner|^worker__/i.test(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function report(result: CliResult): { checks: Check[]; exitCode: number; passed: boolean; estimate?: Record<string, number> } {
  const lines = result.stdout.split('\n').filter((line) => line.length > 0);
  expect(lines, result.stderr).toHaveLength(1);
  return JSON.parse(lines[0] as string) as { checks: Check[]; exitCode: number; passed: boolean };
}

function statuses(checks: Check[]): Record<string, string> {
  return Object.fromEntries(checks.map((check) => [check.id, check.status]));
}

const databases = testDatabases();
afterAll(() => databases.dropAll());

describe('preflight', () => {
  it('on fixtures/sample and a fresh database: exit 0, warnings only, the probe leaves nothing but the ledger collection', async () => {
    const t = await databases.open('cli_preflight');
    const result = await cli(['preflight', '--source', SAMPLE, '--uri', t.uri, '--json', '--quiet']);
    expect(result.code, result.stderr).toBe(0);
    const out = report(result);
    expect(out).toMatchObject({ passed: true, exitCode: 0 });
    expect(out.checks.map((check) => check.id)).toEqual(['connection', 'authentication', 'server', 'write-access', 'schema', 'source', 'attribution', 'ledger', 'estimate']);
    const by = statuses(out.checks);
    expect(by).toMatchObject({ connection: 'pass', 'write-access': 'pass', schema: 'warn', source: 'pass', attribution: 'warn', ledger: 'pass', estimate: 'pass' });
    expect(out.checks.find((check) => check.id === 'source')?.summary).toContain('13 run state, 9 log, 9 approvals, 4 artifact manifest file(s)');
    expect(out.checks.find((check) => check.id === 'attribution')?.details.join(' ')).toContain('release-train-77, run-e41d');
    expect(out.estimate).toMatchObject({ records: 97, documentsPerSecond: 21500 });
    expect(out.checks.find((check) => check.id === 'write-access')?.summary).toContain('wrote and deleted a probe document in taskrunner_backfill_ledger');
    expect((await t.db.listCollections({}, { nameOnly: true }).toArray()).map((entry) => entry.name)).toEqual(['taskrunner_backfill_ledger']);
    expect(await t.db.collection('taskrunner_backfill_ledger').countDocuments()).toBe(0);

    const text = await cli(['preflight', '--source', SAMPLE, '--uri', t.uri, '--quiet']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ {2}PASS {2}connection {8}connected and answered ping in \d+ ms$/m);
    expect(text.stdout).toMatch(/^ {2}WARN {2}schema /m);
    expect(text.stdout.trimEnd().split('\n').at(-1)).toMatch(/^READY: \d+ passed, \d+ warning\(s\), 0 failed; read the warnings\. Next: plan, then import\.$/);
  });

  it('on a wrong --source (fixtures/sample/logs): the source line fails naming the layout and the root, exit 3', async () => {
    const t = await databases.open('cli_preflight_wrong');
    const result = await cli(['preflight', '--source', 'fixtures/sample/logs', '--uri', t.uri, '--json', '--quiet']);
    expect(result.code).toBe(3);
    const out = report(result);
    const source = out.checks.find((check) => check.id === 'source');
    expect(source?.status).toBe('fail');
    expect(source?.summary).toContain('state/runs/*.json, logs/runs/*.ndjson, state/approvals/*.json, artifacts/*/artifact-manifest.json');
    expect(source?.summary).toContain(`did you mean --source ${SAMPLE}?`);
    expect(statuses(out.checks)).toMatchObject({ connection: 'pass', attribution: 'skip', estimate: 'skip' });
    const text = await cli(['preflight', '--source', 'fixtures/sample/logs', '--uri', t.uri, '--quiet']);
    expect(text.stdout).toMatch(/^ {2}FAIL {2}source tree /m);
    expect(text.stdout).toContain('NOT READY:');
  });

  it('on an unreachable server: the checklist is printed, the connection line fails, exit 1', async () => {
    const result = await cli(['preflight', '--source', SAMPLE, '--uri', 'mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=1500', '--quiet']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^ {2}FAIL {2}connection +cannot reach mongodb:\/\/127\.0\.0\.1:1\/x\?serverSelectionTimeoutMS=1500: .*ECONNREFUSED/m);
    expect(result.stdout).toMatch(/^ {2}SKIP {2}write access +no connection$/m);
    expect(result.stdout).toMatch(/^ {2}PASS {2}source tree +13 run state/m);
    expect(result.stdout).toContain('NOT READY: the database cannot be used');
    const asJson = report(await cli(['preflight', '--source', SAMPLE, '--uri', 'mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=1500', '--quiet', '--json']));
    expect(asJson).toMatchObject({ exitCode: 1, passed: false });
  });

  it('a schema that would stop the import fails the schema line; a lease held is a warning naming the holder', async () => {
    const t = await databases.open('cli_preflight_conflict');
    await t.db.collection('pack_run_logs').createIndex({ runId: 1, sequence: 1 }, { name: 'ux_logs_run_sequence' });
    const expiresAt = new Date(Date.now() + 10 * 60_000);
    await t.db.collection<{ _id: string } & Document>('taskrunner_backfill_ledger').insertOne({ _id: 'lease:1/1', kind: 'lease', partition: '1/1', sessionId: 'abc', host: 'other-host', pid: 4242, acquiredAt: new Date(), expiresAt });
    const result = await cli(['preflight', '--source', SAMPLE, '--uri', t.uri, '--json', '--quiet']);
    expect(result.code).toBe(3);
    const out = report(result);
    const schema = out.checks.find((check) => check.id === 'schema');
    expect(schema?.status).toBe('fail');
    expect(schema?.details.join('\n')).toContain('pack_run_logs, index ux_logs_run_sequence on { runId: 1, sequence: 1 }: found plain (not unique); expected unique.');
    const ledger = out.checks.find((check) => check.id === 'ledger');
    expect(ledger?.status).toBe('warn');
    expect(ledger?.details.join('\n')).toContain(`Lease 1/1 HELD by other-host pid 4242 (session abc) until ${expiresAt.toISOString()}`);
    // The probe went into the ledger and out again: the lease is still the only document.
    expect(await t.db.collection('taskrunner_backfill_ledger').countDocuments()).toBe(1);
  });
});
