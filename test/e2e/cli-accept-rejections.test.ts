/**
 * `--accept-rejections FILE` through the built CLI: the sample's 15 deliberate rejections, written
 * by `--rejects` and reviewed, turn import's (and plan's, and verify's) exit 3 into 0; an edited
 * accepted record, or a new bad record, turns it back to 3; a bad accept file is a usage error.
 */
import { execFile } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');

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

function report(result: CliResult): Record<string, any> {
  try {
    return JSON.parse(result.stdout) as Record<string, any>;
  } catch {
    throw new Error(`no JSON on stdout (exit ${result.code}): ${result.stderr}`);
  }
}

let t: TestDb;
let work: string;
let source: string;
let rejects: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'cli-accept-'));
  source = path.join(work, 'source');
  rejects = path.join(work, 'reviewed-rejects.ndjson');
  await cp(SAMPLE, source, { recursive: true });
  t = await openTestDb('cli_accept', { useBigInt64: true });
});

afterAll(async () => {
  await t?.drop();
  if (work) await rm(work, { recursive: true, force: true });
});

const db = (): string[] => ['--uri', t.uri, '--json', '--quiet'];

describe('--accept-rejections', () => {
  it('the sample exits 3 with its 15 rejections; the reviewed rejects file turns import, plan and verify to 0', async () => {
    const first = await cli(['import', '--source', source, ...db(), '--rejects', rejects]);
    expect(first.code, first.stderr).toBe(3);
    expect(report(first).totals).toMatchObject({ rejected: 15, accepted: 0 });
    const lines = (await readFile(rejects, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(15);
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('fingerprint', expect.stringMatching(/^[0-9a-f]{64}$/));

    const accepted = await cli(['import', '--source', source, ...db(), '--accept-rejections', rejects]);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(report(accepted).totals).toMatchObject({ rejected: 0, accepted: 15 });
    expect(report(accepted).acceptedRejections).toHaveLength(15);
    const text = await cli(['import', '--source', source, '--uri', t.uri, '--quiet', '--accept-rejections', rejects]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Rejected and accepted as not imported (--accept-rejections) (15):');

    const plan = await cli(['plan', '--source', source, '--json', '--quiet', '--accept-rejections', rejects]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(report(plan).totals).toMatchObject({ rejected: 0, accepted: 15 });

    const verify = await cli(['verify', '--source', source, ...db(), '--accept-rejections', rejects]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(report(verify)).toMatchObject({ passed: true, totals: { missing: 0, rejected: 0, accepted: 15 } });
    const unaccepted = await cli(['verify', '--source', source, ...db()]);
    expect(unaccepted.code).toBe(3);
    expect(report(unaccepted)).toMatchObject({ passed: false, totals: { rejected: 15, accepted: 0 } });
  });

  it('an accepted record that was edited (still bad) is rejected again: exit 3, the others stay accepted', async () => {
    const file = path.join(source, 'logs/runs/mirror-sync-203.ndjson');
    const original = await readFile(file, 'utf8');
    try {
      // Line 8 is the sample's half-written last line: write other bytes, still not valid JSON.
      await writeFile(file, `${original.replace(/\n?$/, '')}X`);
      const result = await cli(['import', '--source', source, ...db(), '--accept-rejections', rejects]);
      expect(result.code, result.stderr).toBe(3);
      expect(report(result).totals).toMatchObject({ rejected: 1, accepted: 14 });
      expect(report(result).rejections[0]).toMatchObject({ file: 'logs/runs/mirror-sync-203.ndjson', line: 8, reason: 'invalid-json' });
      expect(report(result).unusedAcceptances).toBe(1);
    } finally {
      await writeFile(file, original);
    }
  });

  it('a new bad record still fails the run', async () => {
    const file = path.join(source, 'logs/runs/run-0b2e.ndjson');
    const original = await readFile(file, 'utf8');
    try {
      await appendFile(file, '{"not": "a log entry"}\n');
      const result = await cli(['import', '--source', source, ...db(), '--accept-rejections', rejects]);
      expect(result.code, result.stderr).toBe(3);
      expect(report(result).totals).toMatchObject({ rejected: 1, accepted: 15 });
    } finally {
      await writeFile(file, original);
    }
    // Back to the reviewed state: 0 again.
    expect((await cli(['import', '--source', source, ...db(), '--accept-rejections', rejects])).code).toBe(0);
  });

  it('a missing, malformed or pre-fingerprint accept file is a usage error (exit 2, one line, no stack)', async () => {
    const old = path.join(work, 'old.ndjson');
    await writeFile(old, `${JSON.stringify({ collection: 'logs', file: 'logs/runs/x.ndjson', line: 1, reason: 'invalid-json', message: 'm', hint: 'h' })}\n`);
    const garbage = path.join(work, 'garbage.ndjson');
    await writeFile(garbage, 'not json\n');
    for (const [file, expected] of [
      [path.join(work, 'missing.ndjson'), /cannot be read \(ENOENT\)/],
      [garbage, /line 1 is not JSON/],
      [old, /has no "fingerprint"/],
    ] as const) {
      const result = await cli(['import', '--source', source, ...db(), '--accept-rejections', file]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(expected);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
