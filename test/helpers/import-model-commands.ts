/**
 * Commands and arbitraries of the model-based import test (test/integration/import-model-based
 * .test.ts), shared with the regression tests that replay shrunk counterexamples. The model is in
 * import-model.ts. Not a test file itself.
 */
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ObjectId, type Db, type Document } from 'mongodb';
import pino from 'pino';
import { expect } from 'vitest';
import { importExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import type { ImportReport } from '../../src/report/import-report.js';
import { canonical, applyImport, dumpModel, emptyDb, key, sanitize, ROLES, type ModelDb, type Role, type ImportExpectation } from './import-model.js';
import type { TestDb } from './test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const COLLECTIONS: Record<Role, string> = { runs: 'pack_runs', logs: 'pack_run_logs', approvals: 'pack_run_approvals', artifacts: 'pack_artifacts' };

const MAX_RUNS_IN_TREE = 6;
const T0 = Date.UTC(2025, 10, 6, 9, 0, 0);

/** What the commands of one sequence did, printed when a sequence fails. */
export const stats = { sequences: 0, commands: 0, imports: 0, kills: 0, terms: 0, twoAtOnce: 0, liveWrites: 0, withWorkers: 0 };

// ------------------------------------------------------------------------------------------------
// Model and real system
// ------------------------------------------------------------------------------------------------

export interface Model {
  files: Map<string, string>;
  /** Content before a truncation, deletion or corruption, to restore it later. */
  saved: Map<string, string>;
  /** Log path -> bytes that complete its unterminated last line. */
  pendingTail: Map<string, string>;
  db: ModelDb;
  /** Runs created so far, in order; a run's files are found through `runFiles`. */
  runIds: string[];
  runFiles: Map<string, { state: string; manifest: string; stateVersion: number }>;
  counter: number;
}

export interface Real {
  root: string;
  t: TestDb;
}

export function freshModel(): Model {
  return { files: new Map(), saved: new Map(), pendingTail: new Map(), db: emptyDb(), runIds: [], runFiles: new Map(), counter: 0 };
}

async function writeBoth(model: Model, real: Real, relative: string, content: string): Promise<void> {
  model.files.set(relative, content);
  const absolute = path.join(real.root, relative);
  await mkdir(path.dirname(absolute), { recursive: true });
  await writeFile(absolute, content);
}

async function deleteBoth(model: Model, real: Real, relative: string): Promise<void> {
  model.files.delete(relative);
  await unlink(path.join(real.root, relative));
}

function iso(offsetSeconds: number): string {
  return new Date(T0 + offsetSeconds * 1000).toISOString();
}

function stateJson(runId: string, version: number, planHash: string): string {
  return `${JSON.stringify({
    runId,
    planHash,
    plan: { version: '1' },
    failurePolicy: { maxAttempts: 2, backoffSeconds: 30, continueOnError: false },
    requestedAt: iso(0),
    createdAt: iso(0),
    updatedAt: iso(60 * version),
    tenantId: null,
    steps: [],
  })}\n`;
}

function logEntry(n: number): string {
  return JSON.stringify({ timestamp: iso(n), level: 'info', eventType: 'step.started', message: `m${n}` });
}

function stemFor(runId: string, form: 'same' | 'NFD'): string {
  const stem = sanitize(runId);
  return form === 'NFD' ? stem.normalize('NFD') : stem;
}

// ------------------------------------------------------------------------------------------------
// Importing and checking
// ------------------------------------------------------------------------------------------------

interface InProcessOptions {
  useLedger: boolean;
  /** `--workers`: log files read by worker threads (0: the main thread). */
  workers?: number;
  partition?: { index: number; count: number };
  overwrite?: boolean;
}

/** The report as the CLI prints it: with the exit code the CLI would exit with. */
type PrintedImportReport = ImportReport & { exitCode: number };

async function inProcessImport(real: Real, options: InProcessOptions): Promise<PrintedImportReport> {
  const config = resolveConfig({ source: real.root }, {}, [], REPO);
  const overrides: Partial<ImportOptions> = { useLedger: options.useLedger, overwrite: options.overwrite ?? false, batchSize: 3, concurrency: 2 };
  if (options.partition) overrides.partition = options.partition;
  // The main thread unless a command says otherwise (the default follows the machine's cores).
  overrides.workers = options.workers ?? 0;
  const report = await runImport({ ...config, source: real.root, ...overrides }, { db: real.t.db, serverLabel: 'model-test', logger: pino({ level: 'silent' }) });
  return { ...report, exitCode: importExitCode(report) };
}

function cliArgs(real: Real, workers = 0): string[] {
  // --allow-empty: the model's trees may hold no run state file at all (orphans only), which the
  // CLI otherwise refuses as a usage error (most likely the wrong --source).
  return ['import', '--allow-empty', '--source', real.root, '--uri', real.t.uri, '--db', real.t.dbName, '--json', '--quiet', '--batch-size', '2', '--concurrency', '2', '--lease-ttl-seconds', '5', '--workers', String(workers)];
}

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startCli(args: readonly string[]): { pid: number; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { pid: child.pid as number, done };
}

/** Documents in the four data collections. */
async function countAll(db: Db): Promise<number> {
  let total = 0;
  for (const role of ROLES) total += await db.collection(COLLECTIONS[role]).countDocuments({});
  return total;
}

async function dumpReal(db: Db): Promise<Record<Role, string[]>> {
  const out = {} as Record<Role, string[]>;
  for (const role of ROLES) {
    const docs = await db.collection(COLLECTIONS[role]).find({}, { useBigInt64: true }).toArray();
    out[role] = docs.map((doc) => canonical(doc)).sort();
  }
  return out;
}

function firstDifference(expected: Record<Role, string[]>, actual: Record<Role, string[]>): string {
  for (const role of ROLES) {
    const missing = expected[role].filter((line) => !actual[role].includes(line));
    const extra = actual[role].filter((line) => !expected[role].includes(line));
    if (missing.length > 0 || extra.length > 0) {
      return `${role}: ${missing.length} expected but not stored, ${extra.length} stored but not expected\n  expected: ${missing.slice(0, 3).join('\n            ')}\n  stored:   ${extra.slice(0, 3).join('\n            ')}`;
    }
  }
  return '';
}

/** The check after every completed import: database, exit code and counts agree with the model. */
async function expectAgreement(model: Model, real: Real, expected: ImportExpectation, report: Pick<PrintedImportReport, 'exitCode' | 'totals'>, what: string, checkKeptNewer: boolean): Promise<void> {
  const difference = firstDifference(dumpModel(expected.db), await dumpReal(real.t.db));
  if (difference) throw new Error(`${what}: the database differs from the model\n${difference}`);
  const counts = { rejected: report.totals.rejected, conflict: report.totals.conflict, exitCode: report.exitCode };
  const wanted = { rejected: expected.rejected, conflict: expected.conflict, exitCode: expected.exitCode };
  if (JSON.stringify(counts) !== JSON.stringify(wanted)) throw new Error(`${what}: report ${JSON.stringify(counts)}, model ${JSON.stringify(wanted)}`);
  if (checkKeptNewer && report.totals.keptNewer !== expected.keptNewer) {
    throw new Error(`${what}: keptNewer ${report.totals.keptNewer}, model ${expected.keptNewer}`);
  }
  model.db = expected.db;
}

// ------------------------------------------------------------------------------------------------
// Commands
// ------------------------------------------------------------------------------------------------

export type Cmd = fc.AsyncCommand<Model, Real>;

export class CreateRun implements Cmd {
  constructor(readonly runId: string, readonly version: number) {}
  check = (m: Readonly<Model>): boolean => m.runIds.length < MAX_RUNS_IN_TREE && !m.runIds.includes(this.runId);
  async run(m: Model, r: Real): Promise<void> {
    const stem = sanitize(this.runId);
    let state = `state/runs/${stem}.json`;
    for (let n = 2; m.files.has(state) || [...m.runFiles.values()].some((f) => f.state === state); n++) state = `state/runs/${stem}~${n}.json`;
    m.runIds.push(this.runId);
    m.runFiles.set(this.runId, { state, manifest: `artifacts/m${m.runIds.length}/artifact-manifest.json`, stateVersion: this.version });
    await writeBoth(m, r, state, stateJson(this.runId, this.version, 'h0'));
  }
  toString = (): string => `CreateRun(${JSON.stringify(this.runId)}, v${this.version})`;
}

/** Picks one of the runs created so far by index modulo their number. */
const runAt = (m: Readonly<Model>, index: number): string | undefined => m.runIds[index % Math.max(1, m.runIds.length)];

export class RewriteState implements Cmd {
  constructor(readonly index: number, readonly delta: number) {}
  check = (m: Readonly<Model>): boolean => m.runIds.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const runId = runAt(m, this.index) as string;
    const files = m.runFiles.get(runId)!;
    files.stateVersion += this.delta;
    m.saved.delete(files.state);
    await writeBoth(m, r, files.state, stateJson(runId, files.stateVersion, `h${++m.counter}`));
  }
  toString = (): string => `RewriteState(#${this.index}, ${this.delta >= 0 ? '+' : ''}${this.delta})`;
}

export class TruncateState implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>): boolean => m.runIds.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const state = m.runFiles.get(runAt(m, this.index) as string)!.state;
    const content = m.files.get(state);
    if (content === undefined || content === '') return;
    m.saved.set(state, content);
    await writeBoth(m, r, state, ''); // a crash in the middle of a save
  }
  toString = (): string => `TruncateState(#${this.index})`;
}

export class DeleteFile implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>): boolean => m.files.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const paths = [...m.files.keys()].sort();
    const target = paths[this.index % paths.length] as string;
    m.saved.set(target, m.files.get(target) as string);
    m.pendingTail.delete(target);
    await deleteBoth(m, r, target);
  }
  toString = (): string => `DeleteFile(#${this.index})`;
}

/** Puts back a saved file: a truncated state file, a deleted file, a corrupted log. */
export class RestoreFile implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>): boolean => m.saved.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const paths = [...m.saved.keys()].sort();
    const target = paths[this.index % paths.length] as string;
    const content = m.saved.get(target) as string;
    m.saved.delete(target);
    // A log that grew since keeps its new lines only if the saved copy is a prefix of nothing; restore as saved.
    m.pendingTail.delete(target);
    await writeBoth(m, r, target, content);
    if (target.startsWith('logs/') && !content.endsWith('\n')) m.pendingTail.set(target, '\n');
  }
  toString = (): string => `RestoreFile(#${this.index})`;
}

export type LineKind = 'entry' | 'blank' | 'garbage';
export type Tail = 'complete' | 'no-eol' | 'cr' | 'half';

export class AppendLog implements Cmd {
  constructor(
    readonly index: number,
    readonly form: 'same' | 'NFD',
    readonly kinds: readonly LineKind[],
    readonly eol: '\n' | '\r\n',
    readonly tail: Tail,
  ) {}
  check = (m: Readonly<Model>): boolean => m.runIds.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const target = `logs/runs/${stemFor(runAt(m, this.index) as string, this.form)}.ndjson`;
    let text = m.pendingTail.get(target) ?? '';
    m.pendingTail.delete(target);
    const lines = this.kinds.map((kind) => (kind === 'entry' ? logEntry(++m.counter) : kind === 'blank' ? '' : `{"broken": ${++m.counter}`));
    const last = lines.pop();
    for (const line of lines) text += line + this.eol;
    if (last !== undefined) {
      if (this.tail === 'complete') text += last + this.eol;
      else if (this.tail === 'no-eol') {
        text += last;
        m.pendingTail.set(target, this.eol);
      } else if (this.tail === 'cr') {
        text += `${last}\r`;
        m.pendingTail.set(target, '\n');
      } else {
        const cut = Math.max(1, Math.floor(last.length / 2));
        text += last.slice(0, cut);
        m.pendingTail.set(target, last.slice(cut) + this.eol);
      }
    }
    await writeBoth(m, r, target, (m.files.get(target) ?? '') + text);
  }
  toString = (): string => `AppendLog(#${this.index}, ${this.form}, [${this.kinds.join(',')}], ${JSON.stringify(this.eol)}, ${this.tail})`;
}

export class CompleteLastLine implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>): boolean => m.pendingTail.size > 0;
  async run(m: Model, r: Real): Promise<void> {
    const paths = [...m.pendingTail.keys()].sort();
    const target = paths[this.index % paths.length] as string;
    const rest = m.pendingTail.get(target) as string;
    m.pendingTail.delete(target);
    if (!m.files.has(target)) return;
    await writeBoth(m, r, target, (m.files.get(target) as string) + rest);
  }
  toString = (): string => `CompleteLastLine(#${this.index})`;
}

/** Replaces one finished log line: with garbage (a corruption), or with another valid entry (an edit). */
export class ChangeLine implements Cmd {
  constructor(readonly index: number, readonly line: number, readonly how: 'corrupt' | 'edit') {}
  check = (m: Readonly<Model>): boolean => [...m.files.keys()].some((p) => p.startsWith('logs/'));
  async run(m: Model, r: Real): Promise<void> {
    const logs = [...m.files.keys()].filter((p) => p.startsWith('logs/')).sort();
    const target = logs[this.index % logs.length] as string;
    const text = m.files.get(target) as string;
    const pieces = text.split('\n');
    const finished = pieces.length - 1; // the last piece is unterminated (or empty)
    if (finished < 1) return;
    const at = this.line % finished;
    const original = pieces[at] as string;
    const cr = original.endsWith('\r') ? '\r' : '';
    const body = cr ? original.slice(0, -1) : original;
    if (this.how === 'corrupt') {
      if (!m.saved.has(target)) m.saved.set(target, text);
      pieces[at] = `${body.slice(0, Math.max(1, body.length - 3))}${cr}`;
    } else {
      let json: Record<string, unknown>;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return;
      }
      pieces[at] = JSON.stringify({ ...json, message: `${String(json.message)} (edited)` }) + cr;
    }
    await writeBoth(m, r, target, pieces.join('\n'));
  }
  toString = (): string => `ChangeLine(#${this.index}, line ${this.line}, ${this.how})`;
}

export class WriteApprovals implements Cmd {
  constructor(readonly index: number, readonly form: 'same' | 'NFD', readonly names: readonly string[], readonly version: number, readonly approved: boolean) {}
  check = (m: Readonly<Model>): boolean => m.runIds.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const target = `state/approvals/${stemFor(runAt(m, this.index) as string, this.form)}.json`;
    const approvals = this.names.map((approvalId) => ({
      approvalId,
      requiredGrants: [],
      stepIds: [],
      messages: [],
      reasonTemplate: null,
      requestedAt: iso(0),
      status: this.approved ? 'Approved' : 'Pending',
      actorId: null,
      completedAt: this.approved ? iso(60 * this.version) : null,
      summary: null,
    }));
    m.saved.delete(target);
    await writeBoth(m, r, target, `${JSON.stringify(approvals)}\n`);
  }
  toString = (): string => `WriteApprovals(#${this.index}, ${this.form}, ${JSON.stringify(this.names)}, v${this.version}, ${this.approved ? 'approved' : 'pending'})`;
}

export class WriteManifest implements Cmd {
  constructor(readonly index: number, readonly names: readonly string[], readonly version: number) {}
  check = (m: Readonly<Model>): boolean => m.runIds.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const runId = runAt(m, this.index) as string;
    const outputs = this.names.map((name) => ({ name, type: 'file', sourcePath: null, storedPath: null, status: 'copied', notes: null }));
    const target = m.runFiles.get(runId)!.manifest;
    m.saved.delete(target);
    await writeBoth(m, r, target, `${JSON.stringify({ runId, uploadedAt: iso(60 * this.version), outputs })}\n`);
  }
  toString = (): string => `WriteManifest(#${this.index}, ${JSON.stringify(this.names)}, v${this.version})`;
}

/** What the live service does after the cutover: newer documents, new log entries. */
export class LiveWrite implements Cmd {
  constructor(readonly kind: 'run-newer' | 'log-entry' | 'approval-newer' | 'log-conflict', readonly index: number) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    stats.liveWrites += 1;
    if (this.kind === 'log-conflict') {
      // The service writes an entry under a key a log of the tree has or will have (sequences are
      // line numbers) before the import got there: the import must report a conflict for it,
      // on every run that reads that line, killed or not.
      const runId = runAt(m, this.index);
      const sequence = BigInt(1 + (this.index % 6));
      if (runId === undefined || m.db.logs.has(key(runId, String(sequence)))) return;
      const doc: Document = { _id: new ObjectId(), runId, sequence, timestamp: new Date(T0), level: 'info', eventType: 'live', message: 'written by the service first' };
      await r.t.db.collection(COLLECTIONS.logs).insertOne(doc);
      m.db.logs.set(key(runId, String(sequence)), doc);
      return;
    }
    if (this.kind === 'run-newer' || this.kind === 'log-entry') {
      const runs = [...m.db.runs.values()];
      const run = runs[this.index % Math.max(1, runs.length)];
      if (!run) return;
      if (this.kind === 'run-newer') {
        const updatedAt = new Date((run.updatedAt as Date).getTime() + 86_400_000);
        await r.t.db.collection(COLLECTIONS.runs).updateOne({ _id: run._id as never }, { $set: { updatedAt, planHash: 'live' } });
        m.db.runs.set(key(String(run._id)), { ...run, updatedAt, planHash: 'live' });
      } else {
        const doc: Document = { _id: new ObjectId(), runId: run._id, sequence: BigInt(100_000 + ++m.counter), timestamp: new Date(T0), level: 'info', eventType: 'live', message: 'written by the service' };
        await r.t.db.collection(COLLECTIONS.logs).insertOne(doc);
        m.db.logs.set(key(String(doc.runId), String(doc.sequence)), doc);
      }
      return;
    }
    const approvals = [...m.db.approvals.values()];
    const approval = approvals[this.index % Math.max(1, approvals.length)];
    if (!approval) return;
    const completedAt = new Date(((approval.completedAt as Date | null) ?? (approval.requestedAt as Date)).getTime() + 86_400_000);
    await r.t.db.collection(COLLECTIONS.approvals).updateOne({ _id: approval._id as never }, { $set: { completedAt, summary: 'live' } });
    m.db.approvals.set(key(String(approval.runId), String(approval.approvalId)), { ...approval, completedAt, summary: 'live' });
  }
  toString = (): string => `LiveWrite(${this.kind}, #${this.index})`;
}

export class Import implements Cmd {
  constructor(readonly useLedger: boolean, readonly partition: 0 | 1 | 2, readonly overwrite: boolean, readonly workers = 0) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    stats.imports += 1;
    if (this.workers > 0) stats.withWorkers += 1;
    const partition = this.partition === 0 ? undefined : { index: this.partition, count: 2 };
    const expected = applyImport(m.db, m.files, { overwrite: this.overwrite, ...(partition ? { partition } : {}) });
    const report = await inProcessImport(r, { useLedger: this.useLedger, overwrite: this.overwrite, workers: this.workers, ...(partition ? { partition } : {}) });
    await expectAgreement(m, r, expected, report, this.toString(), !this.useLedger);
  }
  toString = (): string =>
    `Import(${this.useLedger ? 'ledger' : 'no-ledger'}${this.partition ? `, partition ${this.partition}/2` : ''}${this.overwrite ? ', overwrite' : ''}${this.workers ? `, ${this.workers} workers` : ''})`;
}

/** The built CLI, stopped by a signal at a random moment, then the same command run to the end. */
export class InterruptedImport implements Cmd {
  /**
   * `delayMs`: stopped that long after it started; `afterDocuments`: stopped as soon as that many
   * more documents are in the database than when it started (right after a batch was answered,
   * where the ledger is most likely behind the data).
   */
  constructor(readonly signal: 'SIGKILL' | 'SIGTERM', readonly delayMs: number, readonly workers = 0, readonly afterDocuments = 0) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    if (this.signal === 'SIGKILL') stats.kills += 1;
    else stats.terms += 1;
    if (this.workers > 0) stats.withWorkers += 1;
    const expected = applyImport(m.db, m.files);
    const documentsBefore = await countAll(r.t.db);
    const child = startCli(cliArgs(r, this.workers));
    let exited = false;
    void child.done.then(() => (exited = true));
    if (this.afterDocuments > 0) {
      const deadline = Date.now() + 15_000;
      while (!exited && Date.now() < deadline && (await countAll(r.t.db)) < documentsBefore + this.afterDocuments) await new Promise((resolve) => setTimeout(resolve, 2));
    } else {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    }
    try {
      process.kill(child.pid, this.signal);
    } catch {
      // it finished first
    }
    const stopped = await child.done;
    if (this.signal === 'SIGTERM' && stopped.code !== null && ![0, 3, 4].includes(stopped.code)) {
      throw new Error(`${this.toString()}: the stopped import exited ${stopped.code}: ${stopped.stderr}`);
    }
    const rerun = await startCli(cliArgs(r, this.workers)).done;
    let report: PrintedImportReport;
    try {
      report = JSON.parse(rerun.stdout) as PrintedImportReport;
    } catch {
      throw new Error(`${this.toString()}: the re-run printed no report (exit ${rerun.code}): ${rerun.stderr}`);
    }
    expect(rerun.code).toBe(report.exitCode);
    await expectAgreement(m, r, expected, report, `${this.toString()} then the same command again`, false);
  }
  toString = (): string =>
    `InterruptedImport(${this.signal} after ${this.afterDocuments > 0 ? `${this.afterDocuments} more documents` : `${this.delayMs} ms`}${this.workers ? `, ${this.workers} workers` : ''})`;
}

/**
 * An import while the live provider appends to a log (in three writes, so the import may read a
 * half-written line). What that import wrote is not checked (it saw some prefix of the appends);
 * the next import must end where the model of the final tree says.
 */
export class ImportDuringAppend implements Cmd {
  constructor(readonly index: number, readonly lines: number) {}
  check = (m: Readonly<Model>): boolean => m.runIds.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    stats.imports += 1;
    const target = `logs/runs/${stemFor(runAt(m, this.index) as string, 'same')}.ndjson`;
    let text = (m.pendingTail.get(target) ?? '') + Array.from({ length: this.lines }, () => `${logEntry(++m.counter)}\n`).join('');
    m.pendingTail.delete(target);
    const importing = inProcessImport(r, { useLedger: true });
    const absolute = path.join(r.root, target);
    await mkdir(path.dirname(absolute), { recursive: true });
    for (let part = 0; part < 3; part++) {
      const piece = part === 2 ? text : text.slice(0, Math.ceil(text.length / 3));
      text = text.slice(piece.length);
      m.files.set(target, (m.files.get(target) ?? '') + piece);
      await appendFile(absolute, piece);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await importing;
    const expected = applyImport(m.db, m.files);
    const report = await inProcessImport(r, { useLedger: true });
    await expectAgreement(m, r, expected, report, `${this.toString()} then an import`, false);
  }
  toString = (): string => `ImportDuringAppend(#${this.index}, ${this.lines} lines)`;
}

/** Two imports of the same tree at once: one may be refused (LEASE_HELD); whatever completes agrees. */
export class TwoImports implements Cmd {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    stats.twoAtOnce += 1;
    const expected = applyImport(m.db, m.files);
    const results = await Promise.allSettled([inProcessImport(r, { useLedger: true }), inProcessImport(r, { useLedger: true })]);
    const completed = results.filter((result): result is PromiseFulfilledResult<PrintedImportReport> => result.status === 'fulfilled');
    for (const result of results) {
      if (result.status === 'rejected' && !/LEASE_HELD|another import/.test(String(result.reason))) throw result.reason;
    }
    if (completed.length === 0) throw new Error('TwoImports: neither import completed');
    for (const result of completed) await expectAgreement(m, r, expected, result.value, 'TwoImports', false);
  }
  toString = (): string => 'TwoImports';
}

// ------------------------------------------------------------------------------------------------
// Arbitraries
// ------------------------------------------------------------------------------------------------

/** Characters that separate, escape, look alike or differ only in case or Unicode normal form. */
const HOSTILE = ['a', 'b', 'A', '#', '/', ':', '%', '.', '_', ' ', '\\', '*', '\u00e9', 'e\u0301', '\u0000'];
const hostileName = fc.oneof(
  { weight: 8, arbitrary: fc.array(fc.constantFrom(...HOSTILE), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(120), `${'\u00e9'.repeat(40)}#long`) },
);
// A runId must name a file: not only dots (".", ".." are not file names), and never empty.
const runIdArb = hostileName.filter((name) => !/^\.+$/.test(sanitize(name)) && name.trim().length > 0);
const small = fc.nat({ max: 20 });

const importArb = fc
  .tuple(
    fc.boolean(),
    fc.constantFrom<0 | 1 | 2>(0, 0, 0, 1, 2),
    fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    // Log files read in the main thread or by one or two worker threads: the same outcome.
    fc.constantFrom(0, 0, 1, 2),
  )
  .map(([ledger, partition, overwrite, workers]) => new Import(ledger, partition, overwrite, workers));

/** Imports are listed three times: they are where the checks happen. */
export const commandArbs = [
  fc.tuple(runIdArb, fc.integer({ min: 0, max: 3 })).map(([runId, version]) => new CreateRun(runId, version)),
  fc.tuple(small, fc.integer({ min: -2, max: 2 })).map(([index, delta]) => new RewriteState(index, delta)),
  small.map((index) => new TruncateState(index)),
  small.map((index) => new DeleteFile(index)),
  small.map((index) => new RestoreFile(index)),
  fc
    .tuple(
      small,
      fc.constantFrom<'same' | 'NFD'>('same', 'same', 'NFD'),
      fc.array(fc.constantFrom<LineKind>('entry', 'entry', 'entry', 'blank', 'garbage'), { minLength: 1, maxLength: 5 }),
      fc.constantFrom<'\n' | '\r\n'>('\n', '\r\n'),
      fc.constantFrom<Tail>('complete', 'complete', 'no-eol', 'cr', 'half'),
    )
    .map(([index, form, kinds, eol, tail]) => new AppendLog(index, form, kinds, eol, tail)),
  small.map((index) => new CompleteLastLine(index)),
  fc.tuple(small, small, fc.constantFrom<'corrupt' | 'edit'>('corrupt', 'edit')).map(([index, line, how]) => new ChangeLine(index, line, how)),
  fc
    .tuple(small, fc.constantFrom<'same' | 'NFD'>('same', 'NFD'), fc.uniqueArray(hostileName.filter((n) => n.length > 0), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 3 }), fc.boolean())
    .map(([index, form, names, version, approved]) => new WriteApprovals(index, form, names, version, approved)),
  fc
    .tuple(small, fc.uniqueArray(hostileName.filter((n) => n.length > 0), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 3 }))
    .map(([index, names, version]) => new WriteManifest(index, names, version)),
  fc.tuple(fc.constantFrom<LiveWrite['kind']>('run-newer', 'log-entry', 'approval-newer', 'log-conflict'), small).map(([kind, index]) => new LiveWrite(kind, index)),
  importArb,
  importArb,
  importArb,
  fc
    .tuple(
      fc.constantFrom<'SIGKILL' | 'SIGTERM'>('SIGKILL', 'SIGKILL', 'SIGTERM'),
      fc.integer({ min: 0, max: 1200 }),
      fc.constantFrom(0, 0, 1, 2),
      fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }) }),
    )
    .map(([signal, delay, workers, afterDocuments]) => new InterruptedImport(signal, delay, workers, afterDocuments)),
  fc.constant(new TwoImports()),
  fc.tuple(small, fc.integer({ min: 1, max: 40 })).map(([index, lines]) => new ImportDuringAppend(index, lines)),
];

// ------------------------------------------------------------------------------------------------

/**
 * Runs one command sequence on a fresh temp tree and a fresh database, with a final import so
 * every sequence ends with a check.
 */
export async function runSequence(commands: Iterable<Cmd>, openDb: (prefix: string) => Promise<TestDb>): Promise<void> {
  stats.sequences += 1;
  const root = await mkdtemp(path.join(tmpdir(), 'backfill-model-'));
  const t = await openDb('model');
  try {
    const all = [...commands, new Import(true, 0, false)];
    stats.commands += all.length;
    await fc.asyncModelRun(() => ({ model: freshModel(), real: { root, t } }), all);
  } finally {
    await rm(root, { recursive: true, force: true });
    await t.drop();
  }
}
