/**
 * Shared by the resume tests (test/e2e/cli-resume*.test.ts, test/integration/resume-*.test.ts):
 * the built CLI as a child process, progress polling on the logs collection, lease waits, and
 * database dumps for "same state as a clean import" comparisons. Not a test file itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from 'mongodb';
import { detectServerProfile, type ServerProfile } from '../../src/server/server-profile.js';
import { DEFAULT_COLLECTION_NAMES } from '../../src/config/collection-names.js';
import { LedgerStore } from '../../src/ledger/ledger-store.js';
import type { LedgerFileEntry, LedgerLease, LedgerSession } from '../../src/ledger/ledger-types.js';
import type { ImportReport } from '../../src/report/import-report.js';
import type { StatusReport } from '../../src/report/status-report.js';
import { dumpDatabase, dumpText } from '../helpers/dump.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_PATH = path.join(repoRoot, 'dist/src/cli/main.js');
export const LEDGER = DEFAULT_COLLECTION_NAMES.ledger;
export const LOGS = DEFAULT_COLLECTION_NAMES.logs;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliChild {
  child: ChildProcess;
  pid: number;
  /** Settles when the process has exited and its output is closed. */
  result: Promise<CliResult>;
  exited(): boolean;
}

/** Children still running; `killLeftovers` ends them (by pid, only ours) after a failed test. */
const live = new Set<ChildProcess>();

export function startCli(args: readonly string[]): CliChild {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('the CLI child did not start');
  live.add(child);
  let stdout = '';
  let stderr = '';
  let done = false;
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      done = true;
      live.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
  return { child, pid: child.pid, result, exited: () => done || child.exitCode !== null || child.signalCode !== null };
}

export function runCli(args: readonly string[]): Promise<CliResult> {
  return startCli(args).result;
}

export function killLeftovers(): void {
  for (const child of live) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  live.clear();
}

/**
 * `import` of `source` into `db` with what the resume tests want: JSON on stdout, quiet stderr,
 * small batches (many of them), 2 batches in flight, and a short lease so a re-run after a
 * kill -9 waits seconds, not a minute (unless `extra` sets its own).
 */
export function importArgs(source: string, uri: string, db: string, extra: readonly string[] = []): string[] {
  const lease = extra.includes('--lease-ttl-seconds') ? [] : ['--lease-ttl-seconds', '5'];
  return ['import', '--source', source, '--uri', uri, '--db', db, '--json', '--quiet', '--batch-size', '50', '--concurrency', '2', ...lease, ...extra];
}

/** The `--json` output: the report plus the exit code the CLI decided. */
export function parseReport(result: CliResult): ImportReport & { exitCode: number } {
  try {
    return JSON.parse(result.stdout) as ImportReport & { exitCode: number };
  } catch {
    throw new Error(`the CLI printed no JSON report (exit ${result.code}, signal ${result.signal}):\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
}

/** Sum of one outcome over the four collections (the report's `totals`). */
export function totalRecords(expected: Readonly<Record<string, number>>): number {
  return Object.values(expected).reduce((sum, value) => sum + value, 0);
}

export async function statusJson(uri: string, db: string): Promise<StatusReport> {
  const result = await runCli(['status', '--uri', uri, '--db', db, '--json']);
  if (result.code !== 0) throw new Error(`status failed (exit ${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as StatusReport;
}

/** The most recent session in the ledger, as `status --json` prints it. */
export async function lastSessionOutcome(uri: string, db: string): Promise<LedgerSession['outcome'] | undefined> {
  return (await statusJson(uri, db)).sessions[0]?.outcome;
}

const profiles = new WeakMap<Db, ServerProfile>();

/**
 * Log entries stored so far, for a progress poll (not a correctness check). Where `count` reads
 * every document (FerretDB: half a second at 10k), which would slow the very import being
 * watched, `collStats` answers from the backend's row count (an estimate on PostgreSQL); elsewhere
 * the metadata count is cheap and exact enough. The server profile (the tool's own) decides.
 */
export async function logCount(db: Db): Promise<number> {
  let profile = profiles.get(db);
  if (profile === undefined) {
    profile = await detectServerProfile(db, []);
    profiles.set(db, profile);
  }
  const ferret = profile.kind === 'ferretdb';
  try {
    if (ferret) return Number((await db.command({ collStats: LOGS })).count ?? 0);
    return await db.collection(LOGS).estimatedDocumentCount();
  } catch {
    return 0; // the collection does not exist yet, or the server is restarting
  }
}

export interface Interruption {
  /** Whether the child was caught still running (false: it finished first). */
  interrupted: boolean;
  /** Log entries stored when the child was stopped. */
  logsAtStop: number;
}

/**
 * Waits until at least `threshold` log entries are stored and returns with the child frozen
 * (SIGSTOP). The child is frozen during every poll, so it cannot run ahead while a count waits
 * behind its writes: the stop lands within a few milliseconds of work of the threshold.
 */
export async function freezeAt(cli: CliChild, db: Db, threshold: number): Promise<Interruption> {
  while (!cli.exited()) {
    process.kill(cli.pid, 'SIGSTOP');
    const count = await logCount(db);
    if (count >= threshold && !cli.exited()) return { interrupted: true, logsAtStop: count };
    process.kill(cli.pid, 'SIGCONT');
    await sleep(count < threshold * 0.8 ? 20 : 3);
  }
  return { interrupted: false, logsAtStop: await logCount(db) };
}

/** `freezeAt`, then kill -9 or a graceful SIGTERM. */
export async function interruptAt(cli: CliChild, db: Db, threshold: number, signal: 'SIGKILL' | 'SIGTERM'): Promise<Interruption> {
  const stop = await freezeAt(cli, db, threshold);
  if (stop.interrupted) {
    process.kill(cli.pid, signal);
    if (signal !== 'SIGKILL') process.kill(cli.pid, 'SIGCONT');
  }
  return stop;
}

/** A process killed with -9 keeps its lease until it expires: wait for that (TTL 5 s in these tests). */
export async function waitForLeaseExpiry(db: Db): Promise<LedgerLease[]> {
  const leases = (await db.collection(LEDGER).find({ kind: 'lease' }).toArray()) as unknown as LedgerLease[];
  const until = Math.max(0, ...leases.map((lease) => new Date(lease.expiresAt).getTime()));
  const wait = until - Date.now();
  if (wait > 0) await sleep(wait + 250);
  return leases;
}

/** Every file entry the ledger holds (packed in journals and digests: read through the ledger's own reader). */
export async function ledgerFiles(db: Db): Promise<LedgerFileEntry[]> {
  return new LedgerStore(db, LEDGER).allFiles();
}

/** The four data collections as one text, sorted by unique key, `_id`s included. */
export async function stateOf(db: Db): Promise<string> {
  return dumpText(await dumpDatabase(db));
}

/** Documents per data collection (exact counts), to say what differs when dumps differ. */
export async function countsOf(db: Db): Promise<Record<'runs' | 'logs' | 'approvals' | 'artifacts', number>> {
  const names = DEFAULT_COLLECTION_NAMES;
  return {
    runs: await db.collection(names.runs).countDocuments({}),
    logs: await db.collection(names.logs).countDocuments({}),
    approvals: await db.collection(names.approvals).countDocuments({}),
    artifacts: await db.collection(names.artifacts).countDocuments({}),
  };
}

/** The synthetic tree the resume tests share: 40 runs of 100 log lines. */
export const SHAPE = { runs: 40, linesPerRun: 100 };
/** Source files of that tree: a state, approvals, manifest and log file per run. */
export const FILES = SHAPE.runs * 4;
