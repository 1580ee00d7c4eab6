/**
 * The built CLI as a child process: the --rejects file, --strict, and that connection-string
 * credentials reach no output, no report and no ledger document even when the import succeeds.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BSON } from 'mongodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { LedgerStore } from '../../src/ledger/ledger-store.js';
import { openTestDb, withDatabase, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const REASON_CODES = [
  'empty-file', 'unreadable', 'invalid-utf8', 'invalid-json', 'wrong-shape', 'missing-field', 'invalid-field',
  'invalid-date', 'unknown-enum', 'duplicate-key', 'ambiguous-run-id', 'run-id-mismatch', 'too-deep',
  'line-too-long', 'file-too-large', 'document-too-large', 'server-refused',
];

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner/i.test(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env, timeout: 90_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scratch(): Promise<{ db: TestDb; dir: string }> {
  const db = await openTestDb('e2e_rejects', { useBigInt64: true });
  const dir = await mkdtemp(path.join(tmpdir(), 'backfill-out-'));
  cleanups.push(() => db.drop(), () => rm(dir, { recursive: true, force: true }));
  return { db, dir };
}

describe('import --rejects and --strict', () => {
  it('writes one NDJSON line per rejected record with file, line, offset, reason, message, hint', async () => {
    const { db, dir } = await scratch();
    const rejects = path.join(dir, 'rejects.ndjson');
    const result = await cli(['import', '--source', SAMPLE, '--uri', db.uri, '--json', '--rejects', rejects]);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as { totals: { rejected: number } };
    const entries = (await readFile(rejects, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toHaveLength(report.totals.rejected);
    for (const entry of entries) {
      expect(typeof entry.file).toBe('string');
      expect(REASON_CODES).toContain(entry.reason);
      expect(typeof entry.message).toBe('string');
      expect(typeof entry.hint).toBe('string');
      if (entry.collection === 'logs' && entry.reason !== 'ambiguous-run-id') {
        expect(typeof entry.line).toBe('number');
        expect(typeof entry.byteOffset).toBe('number');
      }
      if (entry.excerpt !== undefined) expect((entry.excerpt as string).length).toBeLessThanOrEqual(201);
    }
    const truncated = entries.find((entry) => entry.file === 'logs/runs/mirror-sync-203.ndjson');
    expect(truncated).toMatchObject({ reason: 'invalid-json', line: 8 });
    expect(typeof truncated?.excerpt).toBe('string');
  });

  it('refuses a --rejects file inside the source tree (exit 2)', async () => {
    const { db } = await scratch();
    const result = await cli(['import', '--source', SAMPLE, '--uri', db.uri, '--rejects', path.join(SAMPLE, 'rejects.ndjson')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/inside --source/);
  });

  it('--strict stops at the first rejection with exit 3 and the rejection printed', async () => {
    const { db } = await scratch();
    const result = await cli(['import', '--source', SAMPLE, '--uri', db.uri, '--json', '--strict']);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as { complete: boolean; totals: { inserted: number; rejected: number }; rejections: unknown[] };
    expect(report.complete).toBe(false);
    expect(report.totals.rejected).toBeGreaterThanOrEqual(1);
    expect(report.rejections.length).toBeGreaterThanOrEqual(1);
    // It stopped early: a full run inserts 88 documents (fixtures/sample.expected.json).
    expect(report.totals.inserted).toBeLessThan(88);
  });
});

describe('credentials never leave the process', () => {
  it('a successful import with a password leaves it in no output, report or ledger document', async () => {
    const { db, dir } = await scratch();
    // FerretDB with PLAIN accepts any credentials on SQLite, so the import really runs with a
    // made-up user. On PostgreSQL it hands them to PostgreSQL, whose throwaway test cluster trusts
    // any password on loopback but only its own roles: there the user is `postgres`.
    // Another server (MONGODB_URI) must bring its own credentials for this test to mean anything.
    const base = withDatabase(inject('mongoUri'), db.dbName);
    const ownPassword = /^mongodb(?:\+srv)?:\/\/[^:@/]*:([^@/]*)@/.exec(base)?.[1];
    let withPlain: string;
    let rawPassword: string;
    if (inject('serverKind') === 'ferretdb') {
      rawPassword = 'p%40ss%3Aw0rd%2Fx';
      const user = inject('serverBackend') === 'postgresql' ? 'postgres' : 'backfill';
      const uri = base.replace('mongodb://', `mongodb://${user}:${rawPassword}@`);
      withPlain = `${uri}${uri.includes('?') ? '&' : '?'}authMechanism=PLAIN&authSource=admin`;
    } else if (ownPassword) {
      rawPassword = ownPassword;
      withPlain = base;
    } else {
      throw new Error('this test needs FerretDB or a MONGODB_URI with a user and password');
    }
    const decoded = decodeURIComponent(rawPassword);
    const report = path.join(dir, 'verify.html');
    const imported = await cli(['import', '--source', SAMPLE, '--uri', withPlain, '--json']);
    expect(imported.code).toBe(3);
    const verified = await cli(['verify', '--source', SAMPLE, '--uri', withPlain, '--report', report]);
    const status = await cli(['status', '--uri', withPlain, '--json']);
    expect(status.code).toBe(0);
    const ledger = await db.db.collection('taskrunner_backfill_ledger').find({}).toArray();
    expect(ledger.length).toBeGreaterThan(0);
    const everything = [
      imported.stdout, imported.stderr, verified.stdout, verified.stderr, status.stdout, status.stderr,
      await readFile(report, 'utf8'),
      BSON.EJSON.stringify(ledger),
      // File entries are packed (compressed) in the ledger: unpacked, they hold no secret either.
      JSON.stringify(await new LedgerStore(db.db, 'taskrunner_backfill_ledger').allFiles()),
    ].join('\n');
    expect(everything).toContain(':***@');
    expect(everything).not.toContain(rawPassword);
    expect(everything).not.toContain(decoded);
  });
});
