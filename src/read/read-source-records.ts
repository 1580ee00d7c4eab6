import { BSON, type Document } from 'mongodb';
import { normalizeApproval, approvalElements } from '../normalize/approval.js';
import { normalizeArtifactOutput, readManifestHeader } from '../normalize/artifact-manifest.js';
import { REASON_HINTS, type Normalized } from '../normalize/invalid-record.js';
import type { NormalizeContext } from '../normalize/normalize-context.js';
import { quoteName } from '../domain/record-key.js';
import { RunIdIndex, runIdToFileStem, type StemResolution } from '../normalize/run-id-file-names.js';
import { normalizeRunState } from '../normalize/run-state.js';
import type { ImportTally } from '../domain/import-tally.js';
import { fingerprintOf } from '../domain/rejection-acceptance.js';
import type { CollectionRole } from '../domain/collection-roles.js';
import type { ReasonCode } from '../domain/outcomes.js';
import { fileStem, parentFolderName, type SourceInventory } from '../scan/find-source-files.js';
import type { SourceFile } from '../domain/source-file.js';
import { readJsonFile } from '../scan/read-json-file.js';
import { readLogFileRecords, withoutBytes, MAX_DOCUMENT_BYTES, type LogReadEvents, type LogReadStart } from './read-log-file.js';
import { LogReaderPool, type LogReadTask } from './log-reader-pool.js';
import type { SourceReadOptions } from './source-options.js';
import type { PendingRecord, RecordOrigin } from '../domain/pending-record.js';
import type { FilePosition, LogCheckpoint, RecordSink } from '../domain/record-sink.js';

/**
 * Where a log file starts being read, when an earlier run already imported its beginning; `hash`
 * has already been fed the bytes before `startOffset` (the ledger checked them).
 */
export type ResumePoint = LogReadStart;

export interface ReadHooks {
  /**
   * Files to skip entirely (already done and unchanged). For log and approvals files
   * `attributedRunId` is the run the file resolves to now (null when ambiguous): a file whose
   * records went to another run last time must be read again.
   */
  skipFile?(file: SourceFile, attributedRunId?: string | null): boolean;
  /** The runId a skipped state file holds, when known without reading it (from the ledger). */
  runIdOfSkipped?(file: SourceFile): string | undefined;
  /** A resume point for a grown log file whose records go to `attributedRunId`, as last time. */
  resumeLog?(file: SourceFile, attributedRunId: string): Promise<ResumePoint | undefined>;
  /**
   * Whether `resumeLog` might give this file a resume point (cheap, no I/O): such files are read
   * in the main thread, the others may go to the `--workers` pool. Without it, a reader that has
   * `resumeLog` reads every log in the main thread.
   */
  mayResume?(file: SourceFile, attributedRunId: string): boolean;
  /**
   * A log or approvals file matches no state file and is about to be imported under its file-name
   * runId. Awaited before any of its records is handed over, so that whoever must later move
   * those records to their run (when the state file is readable again) knows of them.
   */
  orphanAttributed?(file: SourceFile, runId: string): Promise<void>;
  /**
   * Whether records of this run belong to this process (`--partition K/N`). Keyed by the run's
   * file stem (the sanitized runId), which every file of a run shares, so a file is never split.
   */
  inPartition?(runFileStem: string): boolean;
}

/**
 * The one read path of the tool: every command reads the source through here, so import, plan
 * and verify see exactly the same records, rejections and warnings. Runs are read first, because
 * the runIds in state files are what attribute log and approval files to runs.
 */
export async function readSourceRecords(
  inventory: SourceInventory,
  options: SourceReadOptions,
  tally: ImportTally,
  sink: RecordSink,
  hooks: ReadHooks = {},
): Promise<{ runIds: RunIdIndex }> {
  const context: NormalizeContext = { enumStyle: options.enumStyle, warn: (code, detail) => tally.warn(code, detail) };
  const runIds = new RunIdIndex();
  const batches = new BatchBuffers(options, sink);
  const firstFileOfRun = new Map<string, string>();
  const mine = (stem: string): boolean => hooks.inPartition?.(stem) ?? true;
  const handOver = (file: SourceFile, position: FilePosition): Promise<void> => batches.handOver(file, position);

  // State files are always read: their runIds attribute every other file, in every partition.
  const noteRunId = (runId: string, file: SourceFile): void => {
    runIds.add(runId);
    const first = firstFileOfRun.get(runId);
    if (first) tally.warn('duplicate-run-id', `run ${quoteName(runId)} is claimed by ${quoteName(first)} and ${quoteName(file.relativePath)}; the newer version wins`);
    else firstFileOfRun.set(runId, file.relativePath);
  };
  for (const file of inventory.files.runs) {
    const skip = hooks.skipFile?.(file) ?? false;
    const knownRunId = skip ? hooks.runIdOfSkipped?.(file) : undefined;
    if (knownRunId !== undefined) {
      noteRunId(knownRunId, file);
      continue;
    }
    const rejectedBefore = tally.rejectionsSeen();
    const ownsFile = (stem: string): boolean => !skip && mine(stem);
    const read = await readRunFile(file, options, context, tally, ownsFile);
    if (read.document) noteRunId(read.document._id, file);
    if (!read.owned) continue;
    if (read.document) await batches.add('runs', { doc: read.document, origin: { file: file.relativePath } });
    await handOver(file, {
      endOffset: file.size,
      nextLine: 1,
      records: read.document ? 1 : 0,
      rejected: tally.rejectionsSeen() - rejectedBefore,
      ...(read.sha256 ? { sha256: read.sha256 } : {}),
      ...(read.document ? { runId: read.document._id } : {}),
    });
  }

  // Each phase ends by flushing its buffer, so its files are written (and marked done) without waiting for the end.
  await batches.flush('runs');

  for (const file of inventory.files.approvals) {
    if (!mine(fileStem(file.relativePath))) continue;
    const resolution = runIds.resolve(fileStem(file.relativePath));
    if (hooks.skipFile?.(file, attributedRunId(resolution))) continue;
    const rejectedBefore = tally.rejectionsSeen();
    const runId = await runIdForFile(file, resolution, context, tally, hooks);
    const read = runId === undefined ? { records: [] } : await readApprovalFile(file, options, runId, context, tally);
    for (const record of read.records) await batches.add('approvals', record);
    await handOver(file, { ...positionOf(file, read, tally.rejectionsSeen() - rejectedBefore), ...(runId === undefined ? {} : { runId }) });
  }

  await batches.flush('approvals');

  for (const file of inventory.files.artifacts) {
    if (hooks.skipFile?.(file)) continue;
    const rejectedBefore = tally.rejectionsSeen();
    const read = await readManifestFile(file, options, context, tally, mine);
    if (!read.owned) continue;
    for (const record of read.records) await batches.add('artifacts', record);
    await handOver(file, positionOf(file, read, tally.rejectionsSeen() - rejectedBefore));
  }

  await batches.flush('artifacts');

  // Logs: read in the main thread, or by the --workers pool a few files ahead of their turn. Their
  // records are still handed over here, one file after another, in the order of the files.
  const pool = options.workers !== undefined && options.workers > 0 ? new LogReaderPool(options.workers) : undefined;
  try {
    const ahead: PreparedLog[] = [];
    let next = 0;
    for (;;) {
      while (next < inventory.files.logs.length && ahead.length <= (pool ? 2 * pool.size : 0)) {
        const prepared = prepareLog(inventory.files.logs[next++] as SourceFile, runIds, options, hooks, pool);
        if (prepared) ahead.push(prepared);
      }
      const prepared = ahead.shift();
      if (!prepared) break;
      await readPreparedLog(prepared, options, context, tally, batches, hooks);
    }
  } finally {
    await pool?.close();
  }
  await batches.flushAll();
  return { runIds };
}

/** A log file this process reads, with its attribution, and its worker task when a worker reads it. */
interface PreparedLog {
  file: SourceFile;
  resolution: StemResolution;
  task?: LogReadTask;
}

/**
 * Decides, in file order, whether a log is read (partition, ledger) and hands it to a worker
 * when one can read it: not an unreadable, empty or ambiguously named file, nor one the ledger
 * may resume (its running hash lives in the main thread).
 */
function prepareLog(file: SourceFile, runIds: RunIdIndex, options: SourceReadOptions, hooks: ReadHooks, pool: LogReaderPool | undefined): PreparedLog | undefined {
  const stem = fileStem(file.relativePath);
  if (hooks.inPartition && !hooks.inPartition(stem)) return undefined;
  const resolution = runIds.resolve(stem);
  if (hooks.skipFile?.(file, attributedRunId(resolution))) return undefined;
  if (!pool || file.unreadable || file.size === 0 || resolution.kind === 'ambiguous') return { file, resolution };
  if (hooks.mayResume ? hooks.mayResume(file, resolution.runId) : hooks.resumeLog !== undefined) return { file, resolution };
  const data = { relativePath: file.relativePath, absolutePath: file.absolutePath, size: file.size, mtimeMs: file.mtimeMs };
  return { file, resolution, task: pool.submit(data, { runId: resolution.runId, fileStem: stem, maxLineBytes: options.maxLineBytes, enumStyle: options.enumStyle }) };
}

async function readPreparedLog(
  { file, resolution, task }: PreparedLog,
  options: SourceReadOptions,
  context: NormalizeContext,
  tally: ImportTally,
  batches: BatchBuffers,
  hooks: ReadHooks,
): Promise<void> {
  const rejectedBefore = tally.rejectionsSeen();
  let position: FilePosition;
  if (file.unreadable) {
    rejectFile(tally, file, 'unreadable', `the path ${file.unreadable}`, withoutBytes(file, `unreadable ${file.unreadable}`));
    position = { endOffset: 0, nextLine: 1, records: 0, rejected: 0 };
  } else {
    // Attribution is reported (and an orphan marked in the ledger) before any record is handed over.
    const runId = await runIdForFile(file, resolution, context, tally, hooks);
    if (runId === undefined) {
      position = { endOffset: 0, nextLine: 1, records: 0, rejected: 0 };
    } else {
      const events = logReadEvents(file, context, tally, batches);
      if (task) {
        position = await task.replay(events);
      } else {
        const resume = await hooks.resumeLog?.(file, runId);
        const input = { runId, fileStem: fileStem(file.relativePath), maxLineBytes: options.maxLineBytes, enumStyle: options.enumStyle };
        position = await readLogFileRecords(file, input, resume, events);
      }
      position.runId = runId;
    }
  }
  position.rejected = tally.rejectionsSeen() - rejectedBefore;
  await batches.handOver(file, position);
}

/** Where a log file's records, rejections, warnings and checkpoints go in the main thread. */
function logReadEvents(file: SourceFile, context: NormalizeContext, tally: ImportTally, batches: BatchBuffers): LogReadEvents {
  return {
    record: (record, approximateBytes) => batches.add('logs', record, approximateBytes),
    reject: (rejection) => tally.reject(rejection),
    warn: (code, detail) => context.warn(code, detail),
    checkpoint: (checkpoint) => batches.logCheckpoint(file, checkpoint),
  };
}

/** The run a log or approvals file's records go to, or null when its name is ambiguous. */
function attributedRunId(resolution: StemResolution): string | null {
  return resolution.kind === 'ambiguous' ? null : resolution.runId;
}

function positionOf(file: SourceFile, read: { records: PendingRecord<Document>[]; sha256?: string }, rejected: number): FilePosition {
  return {
    endOffset: file.size,
    nextLine: 1,
    records: read.records.length,
    rejected,
    ...(read.sha256 ? { sha256: read.sha256 } : {}),
  };
}

/**
 * Per-collection buffers that hand full batches (by count or bytes) to the sink. A file is handed
 * over only after the batch holding its last records went to the sink, so the ledger can never
 * mark a file done while some of its records still sit in a buffer.
 */
class BatchBuffers {
  private readonly buffers = new Map<CollectionRole, { records: PendingRecord<Document>[]; bytes: number }>();
  /** Log checkpoints whose last records still sit in the logs buffer. */
  private checkpoints: Array<{ file: SourceFile; checkpoint: LogCheckpoint }> = [];
  private readonly waiting = new Map<CollectionRole, Array<{ file: SourceFile; position: FilePosition }>>();

  constructor(
    private readonly options: SourceReadOptions,
    private readonly sink: RecordSink,
  ) {}

  async add(role: CollectionRole, record: PendingRecord<Document>, approximateBytes = 512): Promise<void> {
    let buffer = this.buffers.get(role);
    if (!buffer) this.buffers.set(role, (buffer = { records: [], bytes: 0 }));
    buffer.records.push(record);
    buffer.bytes += approximateBytes;
    if (buffer.records.length >= this.options.batchSize || buffer.bytes >= this.options.batchBytes) await this.flush(role);
  }

  async handOver(file: SourceFile, position: FilePosition): Promise<void> {
    if (!this.sink.fileHandedOver) return;
    // A file's records are added contiguously just before it is handed over: checking the last is enough.
    const buffered = this.buffers.get(file.role)?.records.at(-1)?.origin.file === file.relativePath;
    if (!buffered) {
      await this.sink.fileHandedOver(file, position);
      return;
    }
    const waiting = this.waiting.get(file.role) ?? [];
    waiting.push({ file, position });
    this.waiting.set(file.role, waiting);
  }

  /** Passes a log checkpoint on once the records before it have gone to the sink. */
  logCheckpoint(file: SourceFile, checkpoint: LogCheckpoint): void {
    if (!this.sink.logCheckpoint) return;
    if ((this.buffers.get('logs')?.records.length ?? 0) === 0) this.sink.logCheckpoint(file, checkpoint);
    else this.checkpoints.push({ file, checkpoint });
  }

  async flush(role: CollectionRole): Promise<void> {
    const buffer = this.buffers.get(role);
    if (buffer && buffer.records.length > 0) {
      this.buffers.set(role, { records: [], bytes: 0 });
      await this.sink.accept(role, buffer.records);
    }
    if (role === 'logs' && this.checkpoints.length > 0) {
      const ready = this.checkpoints;
      this.checkpoints = [];
      for (const { file, checkpoint } of ready) this.sink.logCheckpoint?.(file, checkpoint);
    }
    const waiting = this.waiting.get(role);
    if (waiting && waiting.length > 0) {
      this.waiting.set(role, []);
      for (const { file, position } of waiting) await this.sink.fileHandedOver?.(file, position);
    }
  }

  async flushAll(): Promise<void> {
    for (const role of this.buffers.keys()) await this.flush(role);
  }
}

/**
 * Rejects a whole file. `fingerprint`: the file's SHA-256 when its bytes were read, else what
 * identifies it without them (see `withoutBytes`).
 */
function rejectFile(tally: ImportTally, file: SourceFile, reason: ReasonCode, message: string, fingerprint: string, excerptText?: string): void {
  tally.reject({
    collection: file.role,
    file: file.relativePath,
    reason,
    message,
    hint: REASON_HINTS[reason],
    ...(excerptText === undefined ? {} : { excerpt: excerptText }),
    fingerprint,
  });
}

/** Rejects one record; `fingerprint` covers its bytes (a line's text, an element's JSON, a file). */
function rejectRecord(
  tally: ImportTally,
  role: CollectionRole,
  origin: RecordOrigin & { element?: number },
  result: { reason: ReasonCode; message: string },
  fingerprint: string,
  excerptText?: string,
): void {
  tally.reject({
    collection: role,
    ...origin,
    reason: result.reason,
    message: result.message,
    hint: REASON_HINTS[result.reason],
    ...(excerptText === undefined ? {} : { excerpt: excerptText }),
    fingerprint,
  });
}

interface WholeJson {
  json?: unknown;
  /** Set when the file could be parsed. */
  parsed: boolean;
  sha256?: string;
  /** The rejection to report, when it could not be parsed (reported only by the owning partition). */
  reject?: () => void;
}

async function readWholeJson(file: SourceFile, options: SourceReadOptions, tally: ImportTally): Promise<WholeJson> {
  if (file.unreadable) {
    return { parsed: false, reject: () => rejectFile(tally, file, 'unreadable', `the path ${file.unreadable}`, withoutBytes(file, `unreadable ${file.unreadable}`)) };
  }
  const result = await readJsonFile(file.absolutePath, options.maxFileBytes);
  const sha256 = result.sha256 ? { sha256: result.sha256 } : {};
  if (!result.ok) {
    const fingerprint = result.sha256 ?? withoutBytes(file, result.reason);
    return { parsed: false, ...sha256, reject: () => rejectFile(tally, file, result.reason, result.message, fingerprint, result.excerpt) };
  }
  return { parsed: true, json: result.json, ...sha256 };
}

/** Accepts a normalized document only if MongoDB can store it. */
function storable<T extends Document>(result: Normalized<T>): Normalized<T> {
  if (!result.ok) return result;
  const size = BSON.calculateObjectSize(result.doc);
  if (size > MAX_DOCUMENT_BYTES) {
    return { ok: false, reason: 'document-too-large', message: `the document would be ${size} bytes, over MongoDB's 16 MiB limit` };
  }
  return result;
}

/**
 * Reads one state file. Always parsed (its runId is needed by every partition); rejections and
 * the document count only where `owns` says the run belongs to this process.
 */
async function readRunFile(
  file: SourceFile,
  options: SourceReadOptions,
  context: NormalizeContext,
  tally: ImportTally,
  owns: (runFileStem: string) => boolean,
): Promise<{ document?: Document & { _id: string }; owned: boolean; sha256?: string }> {
  const read = await readWholeJson(file, options, tally);
  const sha256 = read.sha256 ? { sha256: read.sha256 } : {};
  if (!read.parsed) {
    const owned = owns(fileStem(file.relativePath));
    if (owned) read.reject?.();
    return { owned, ...sha256 };
  }
  // Warnings from a file another partition owns are that partition's to report.
  const quiet: NormalizeContext = { enumStyle: context.enumStyle, warn: () => undefined };
  const probe = normalizeRunState({ json: read.json, fileStem: fileStem(file.relativePath) }, quiet);
  const stem = probe.ok ? runIdToFileStem(probe.doc._id) : fileStem(file.relativePath);
  const owned = owns(stem);
  const result = owned ? storable(normalizeRunState({ json: read.json, fileStem: fileStem(file.relativePath) }, context)) : storable(probe);
  if (!result.ok) {
    if (owned) rejectRecord(tally, 'runs', { file: file.relativePath }, result, read.sha256 ?? withoutBytes(file, result.reason));
    return { owned, ...sha256 };
  }
  return { document: result.doc, owned, ...sha256 };
}

/**
 * Reports how a log or approvals file was attributed and returns its run; an ambiguous name
 * rejects the whole file. Names are quoted with non-ASCII escaped: two runIds that differ only in
 * Unicode normal form must not print alike.
 */
async function runIdForFile(
  file: SourceFile,
  resolution: StemResolution,
  context: NormalizeContext,
  tally: ImportTally,
  hooks: ReadHooks,
): Promise<string | undefined> {
  if (resolution.kind === 'ambiguous') {
    rejectFile(
      tally,
      file,
      'ambiguous-run-id',
      `the file name matches several runs (${resolution.runIds.map(quoteName).join(', ')}); nothing in it was imported`,
      withoutBytes(file, `ambiguous ${JSON.stringify(resolution.runIds)}`),
    );
    return undefined;
  }
  if (resolution.kind === 'orphan') {
    tally.orphanRunIds.add(resolution.runId);
    context.warn('orphan', `${quoteName(file.relativePath)} matches no state file; imported under runId ${quoteName(resolution.runId)}`);
    await hooks.orphanAttributed?.(file, resolution.runId);
  } else if (resolution.normalizedFrom) {
    context.warn(
      'unicode-normalization',
      `${quoteName(file.relativePath)} is named in Unicode ${resolution.normalizedFrom === 'NFD' ? 'NFD' : 'another normal form'} and matches run ` +
        `${quoteName(resolution.runId)} only in NFC; attributed to that run`,
    );
  }
  return resolution.runId;
}

async function readApprovalFile(
  file: SourceFile,
  options: SourceReadOptions,
  runId: string,
  context: NormalizeContext,
  tally: ImportTally,
): Promise<{ records: PendingRecord<Document>[]; sha256?: string }> {
  const read = await readWholeJson(file, options, tally);
  const sha256 = read.sha256 ? { sha256: read.sha256 } : {};
  if (!read.parsed) {
    read.reject?.();
    return { records: [], ...sha256 };
  }
  const elements = approvalElements(read.json);
  if (!elements.ok) {
    rejectFile(tally, file, elements.reason, elements.message, read.sha256 ?? withoutBytes(file, elements.reason));
    return { records: [], ...sha256 };
  }
  const records: PendingRecord<Document>[] = [];
  elements.doc.forEach((element, index) => {
    const origin: RecordOrigin = { file: `${file.relativePath}` };
    const result = storable(normalizeApproval(element, runId, context));
    if (result.ok) records.push({ doc: result.doc, origin });
    else rejectRecord(tally, 'approvals', { ...origin, element: index }, { reason: result.reason, message: `approval [${index}]: ${result.message}` }, fingerprintOf(JSON.stringify(element) ?? 'undefined'));
  });
  return { records, ...sha256 };
}

async function readManifestFile(
  file: SourceFile,
  options: SourceReadOptions,
  context: NormalizeContext,
  tally: ImportTally,
  owns: (runFileStem: string) => boolean,
): Promise<{ records: PendingRecord<Document>[]; owned: boolean; sha256?: string }> {
  const read = await readWholeJson(file, options, tally);
  const sha256 = read.sha256 ? { sha256: read.sha256 } : {};
  const folderName = parentFolderName(file.relativePath);
  if (!read.parsed) {
    const owned = owns(folderName);
    if (owned) read.reject?.();
    return { records: [], owned, ...sha256 };
  }
  const quiet: NormalizeContext = { enumStyle: context.enumStyle, warn: () => undefined };
  const probe = readManifestHeader({ json: read.json, folderName }, quiet);
  const owned = owns(probe.ok ? runIdToFileStem(probe.doc.runId) : folderName);
  if (!owned) return { records: [], owned, ...sha256 };
  const header = readManifestHeader({ json: read.json, folderName }, context);
  if (!header.ok) {
    rejectRecord(tally, 'artifacts', { file: file.relativePath }, header, read.sha256 ?? withoutBytes(file, header.reason));
    return { records: [], owned, ...sha256 };
  }
  const records: PendingRecord<Document>[] = [];
  header.doc.outputs.forEach((output, index) => {
    const origin: RecordOrigin = { file: file.relativePath };
    const result = storable(normalizeArtifactOutput(output, header.doc, context));
    if (result.ok) records.push({ doc: result.doc, origin });
    else rejectRecord(tally, 'artifacts', { ...origin, element: index }, { reason: result.reason, message: `output [${index}]: ${result.message}` }, fingerprintOf(JSON.stringify(output) ?? 'undefined'));
  });
  return { records, owned, ...sha256 };
}
