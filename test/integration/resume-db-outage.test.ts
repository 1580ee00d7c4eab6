/**
 * The database dies (kill -9 of the server) in the middle of an import run through the API: the
 * batches in flight and the ones after them must fail, be retried within the bounded policy and
 * then stop the run with DB_UNAVAILABLE ("run the same command again") — never be counted as
 * written. After the server restarts on the same port and data, the same import completes and
 * the database equals a clean import. Runs its own FerretDB (test-server.ts), not the shared one.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type CommandStartedEvent, type CommandSucceededEvent, type Db } from 'mongodb';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { BackfillRuntimeError } from '../../src/errors.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import type { ImportReport } from '../../src/report/import-report.js';
import { makeSyntheticTree, type SyntheticTree } from '../helpers/synthetic-tree.js';
import { getFreePort, startFerretDb, type FerretDbHandle } from '../helpers/test-server.js';
import { LOGS, countsOf, lastSessionOutcome, stateOf, totalRecords } from '../e2e/cli-resume-support.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Small bounds so the outage outlasts the retries within a few seconds. */
const RETRY = { attempts: 3, initialDelayMs: 100, maxDelayMs: 200 };

let server: FerretDbHandle | undefined;
let port: number;
let dataDir: string;
let client: MongoClient;
let tree: SyntheticTree;

beforeAll(async () => {
  port = await getFreePort();
  dataDir = await mkdtemp(path.join(tmpdir(), 'backfill-outage-ferretdb-'));
  server = await startFerretDb({ port, dataDir });
  // As the CLI connects (useBigInt64), with a short server selection so a dead server fails fast;
  // command monitoring tells when to stop the server.
  client = new MongoClient(server.uri, { useBigInt64: true, serverSelectionTimeoutMS: 1_000, monitorCommands: true });
  await client.connect();
  tree = await makeSyntheticTree({ runs: 40, linesPerRun: 100 });
}, 120_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await server?.stop(); // removes the data directory
  await tree?.remove();
}, 60_000);

function importInto(db: Db, logger: Logger, overrides: Partial<ImportOptions> = {}): Promise<ImportReport> {
  const config = resolveConfig({ source: tree.root, batchSize: 50, concurrency: 2 }, {}, [], REPO);
  return runImport({ ...config, source: tree.root, retry: RETRY, leaseTtlMs: 5_000, ...overrides }, { db, serverLabel: 'outage-test', logger });
}

/**
 * Freezes the server process (SIGSTOP) as soon as the answers to the import's inserts into the
 * logs collection of `dbName` add up to `threshold` entries (the driver's command monitoring on the
 * import's own client).
 */
function freezeServerAt(pid: number, dbName: string, threshold: number): { reached: Promise<{ stored: number }>; detach(): void } {
  const inserts = new Set<number>();
  let stored = 0;
  let done = false;
  let resolve: (value: { stored: number }) => void = () => undefined;
  const reached = new Promise<{ stored: number }>((r) => (resolve = r));
  const started = (event: CommandStartedEvent): void => {
    if (event.databaseName === dbName && event.commandName === 'insert' && event.command.insert === LOGS) inserts.add(event.requestId);
  };
  const succeeded = (event: CommandSucceededEvent): void => {
    if (done || !inserts.delete(event.requestId)) return;
    stored += Number((event.reply as { n?: unknown }).n ?? 0);
    if (stored < threshold) return;
    process.kill(pid, 'SIGSTOP');
    done = true;
    resolve({ stored });
  };
  client.on('commandStarted', started);
  client.on('commandSucceeded', succeeded);
  return {
    reached,
    detach() {
      client.off('commandStarted', started);
      client.off('commandSucceeded', succeeded);
    },
  };
}

function recordingLogger(): { logger: Logger; lines: Array<{ msg?: string; attempt?: number }> } {
  const lines: Array<{ msg?: string; attempt?: number }> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string }) });
  return { logger, lines };
}

test('a server killed mid-import makes the run fail with DB_UNAVAILABLE after bounded retries; after a restart the same import completes identically', async () => {
  const silent = pino({ level: 'silent' });
  const reference = await importInto(client.db('outage_ref'), silent, { useLedger: false });
  expect(reference.totals.inserted).toBe(totalRecords(tree.expected));
  const referenceState = await stateOf(client.db('outage_ref'));

  const db = client.db('outage');
  const { logger, lines } = recordingLogger();
  const running = importInto(db, logger);
  const outcome = running.then(
    (report) => ({ report, error: undefined }),
    (error: unknown) => ({ report: undefined, error }),
  );
  let finished = false;
  void outcome.then(() => (finished = true));

  // Kill the server (not gracefully: like a crash) once a fifth of the logs is stored. The server is
  // frozen (SIGSTOP) in the very callback that sees the insert answers reach the threshold, so the
  // import cannot run ahead of the check, however fast the backend (a polled count let imports on
  // PostgreSQL finish first).
  const threshold = Math.ceil(0.2 * tree.expected.logs);
  const dead = server;
  if (!dead?.pid) throw new Error('no server pid');
  const frozen = freezeServerAt(dead.pid, db.databaseName, threshold);
  const stop = await Promise.race([frozen.reached, outcome.then(() => undefined)]);
  frozen.detach();
  expect(finished, 'the import finished before the server was frozen').toBe(false);
  expect(stop?.stored).toBeGreaterThanOrEqual(threshold);
  expect(stop?.stored).toBeLessThan(tree.expected.logs);
  process.kill(dead.pid, 'SIGKILL');

  const { report, error } = await outcome;
  expect(report, 'a run that lost its server must not report success').toBeUndefined();
  expect(error).toBeInstanceOf(BackfillRuntimeError);
  expect((error as BackfillRuntimeError).code).toBe('DB_UNAVAILABLE');
  expect((error as Error).message).toContain(`after ${RETRY.attempts} attempts`);
  expect((error as Error).message).toMatch(/run the same command again to resume/);
  const retries = lines.filter((line) => line.msg === 'transient database error; retrying the batch');
  expect(retries.length).toBeGreaterThanOrEqual(RETRY.attempts - 1);
  expect(Math.max(...retries.map((line) => line.attempt ?? 0))).toBe(RETRY.attempts - 1);

  await dead.stop({ keepData: true });
  server = await startFerretDb({ port, dataDir });
  expect(server.uri).toBe(dead.uri);

  // The session could not record its end, nor release its lease: both stay as the crash left them.
  expect(await lastSessionOutcome(server.uri, 'outage')).toBe('running');
  // The lease (5 s) belongs to this very process, which is alive: the same import waits it out.
  const lease = await db.collection('taskrunner_backfill_ledger').findOne({ kind: 'lease' });
  const wait = lease ? new Date(lease.expiresAt as Date).getTime() - Date.now() + 250 : 0;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

  const again = await importInto(db, silent);
  expect(again.complete).toBe(true);
  expect(again.totals.rejected + again.totals.conflict).toBe(0);
  expect(await countsOf(db)).toEqual(tree.expected);
  expect(await stateOf(db)).toBe(referenceState);
  expect(await lastSessionOutcome(server.uri, 'outage')).toBe('complete');
}, 120_000);
