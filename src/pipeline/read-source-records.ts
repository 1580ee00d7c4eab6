import { BSON, type Document } from 'mongodb';
import { normalizeApproval, approvalElements } from '../normalize/approval.js';
import { normalizeArtifactOutput, readManifestHeader } from '../normalize/artifact-manifest.js';
import { REASON_HINTS, type Normalized } from '../normalize/invalid-record.js';
import { normalizeLogLine } from '../normalize/log-entry.js';
import type { NormalizeContext } from '../normalize/normalize-context.js';
import { RunIdIndex } from '../normalize/run-id-file-names.js';
import { normalizeRunState } from '../normalize/run-state.js';
import type { ImportTally } from '../report/import-tally.js';
import type { CollectionRole, ReasonCode } from '../report/types.js';
import { fileStem, parentFolderName, type SourceFile, type SourceInventory } from '../scan/find-source-files.js';
import { excerpt, readJsonFile } from '../scan/read-json-file.js';
import { readLogLines } from '../scan/read-log-lines.js';
import type { SourceReadOptions } from '../scan/source-options.js';
import type { PendingRecord, RecordOrigin } from '../write/pending-record.js';

/** MongoDB's document size limit, less a margin for the command envelope. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 - 16 * 1024;
/** Log lines shorter than this cannot exceed the document limit; skip the size computation. */
const LOG_LINE_SIZE_CHECK_BYTES = 4 * 1024 * 1024;

/** Where normalized records go: the database (import), a counter (plan), a comparer (verify). */
export interface RecordSink {
  /** Takes one batch of one collection. Awaiting it is the backpressure. */
  accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void>;
  /** Called when every record of a file has been handed to `accept` (not necessarily written). */
  fileHandedOver?(file: SourceFile, position: FilePosition): Promise<void>;
}

/** How far a file was read: for logs, where the next read resumes. */
export interface FilePosition {
  endOffset: number;
  nextLine: number;
  records: number;
}

/** Where a log file starts being read, when an earlier run already imported its beginning. */
export type ResumePoint = { startOffset: number; startLine: number };

export interface ReadHooks {
  /** Files to skip entirely (already done and unchanged). */
  skipFile?(file: SourceFile): boolean;
  /** A resume point for a grown log file. */
  resumeLog?(file: SourceFile): ResumePoint | undefined;
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
): Promise<void> {
  const context: NormalizeContext = { enumStyle: options.enumStyle, warn: (code, detail) => tally.warn(code, detail) };
  const runIds = new RunIdIndex();
  const batches = new BatchBuffers(options, sink);
  const firstFileOfRun = new Map<string, string>();

  for (const file of inventory.files.runs) {
    const document = await readRunFile(file, options, context, tally);
    if (document) {
      const runId = document._id;
      runIds.add(runId);
      const first = firstFileOfRun.get(runId);
      if (first) tally.warn('duplicate-run-id', `run ${JSON.stringify(runId)} is claimed by ${first} and ${file.relativePath}; the newer version wins`);
      else firstFileOfRun.set(runId, file.relativePath);
      if (!hooks.skipFile?.(file)) await batches.add('runs', { doc: document, origin: { file: file.relativePath } });
    }
    if (!hooks.skipFile?.(file)) {
      await batches.flushFile(file, { endOffset: file.size, nextLine: 1, records: document ? 1 : 0 });
    }
  }

  for (const file of inventory.files.approvals) {
    if (hooks.skipFile?.(file)) continue;
    const records = await readApprovalFile(file, options, runIds, context, tally);
    for (const record of records) await batches.add('approvals', record);
    await batches.flushFile(file, { endOffset: file.size, nextLine: 1, records: records.length });
  }

  for (const file of inventory.files.artifacts) {
    if (hooks.skipFile?.(file)) continue;
    const records = await readManifestFile(file, options, context, tally);
    for (const record of records) await batches.add('artifacts', record);
    await batches.flushFile(file, { endOffset: file.size, nextLine: 1, records: records.length });
  }

  for (const file of inventory.files.logs) {
    if (hooks.skipFile?.(file)) continue;
    const position = await readLogFile(file, options, runIds, context, tally, batches, hooks.resumeLog?.(file));
    await batches.flushFile(file, position);
  }
  await batches.flushAll();
}

/** Per-collection buffers that hand full batches (by count or bytes) to the sink. */
class BatchBuffers {
  private readonly buffers = new Map<CollectionRole, { records: PendingRecord<Document>[]; bytes: number }>();
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

  async flush(role: CollectionRole): Promise<void> {
    const buffer = this.buffers.get(role);
    if (!buffer || buffer.records.length === 0) return;
    this.buffers.set(role, { records: [], bytes: 0 });
    await this.sink.accept(role, buffer.records);
  }

  /** A file is handed over only once its records left the buffer, so the ledger never runs ahead. */
  async flushFile(file: SourceFile, position: FilePosition): Promise<void> {
    if (!this.sink.fileHandedOver) return;
    await this.flush(file.role);
    await this.sink.fileHandedOver(file, position);
  }

  async flushAll(): Promise<void> {
    for (const role of this.buffers.keys()) await this.flush(role);
  }
}

function rejectFile(tally: ImportTally, file: SourceFile, reason: ReasonCode, message: string, excerptText?: string): void {
  tally.reject({
    collection: file.role,
    file: file.relativePath,
    reason,
    message,
    hint: REASON_HINTS[reason],
    ...(excerptText === undefined ? {} : { excerpt: excerptText }),
  });
}

function rejectRecord(tally: ImportTally, role: CollectionRole, origin: RecordOrigin, result: { reason: ReasonCode; message: string }, excerptText?: string): void {
  tally.reject({
    collection: role,
    ...origin,
    reason: result.reason,
    message: result.message,
    hint: REASON_HINTS[result.reason],
    ...(excerptText === undefined ? {} : { excerpt: excerptText }),
  });
}

async function readWholeJson(file: SourceFile, options: SourceReadOptions, tally: ImportTally): Promise<{ json: unknown } | undefined> {
  if (file.unreadable) {
    rejectFile(tally, file, 'unreadable', `the path ${file.unreadable}`);
    return undefined;
  }
  const result = await readJsonFile(file.absolutePath, options.maxFileBytes);
  if (!result.ok) {
    rejectFile(tally, file, result.reason, result.message, result.excerpt);
    return undefined;
  }
  return { json: result.json };
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

async function readRunFile(
  file: SourceFile,
  options: SourceReadOptions,
  context: NormalizeContext,
  tally: ImportTally,
): Promise<Document & { _id: string } | undefined> {
  const read = await readWholeJson(file, options, tally);
  if (!read) return undefined;
  const result = storable(normalizeRunState({ json: read.json, fileStem: fileStem(file.relativePath) }, context));
  if (!result.ok) {
    rejectRecord(tally, 'runs', { file: file.relativePath }, result);
    return undefined;
  }
  return result.doc as Document & { _id: string };
}

/** Resolves a log or approvals file to its run; an ambiguous name rejects the whole file. */
function runIdForFile(file: SourceFile, runIds: RunIdIndex, context: NormalizeContext, tally: ImportTally): string | undefined {
  const resolution = runIds.resolve(fileStem(file.relativePath));
  if (resolution.kind === 'ambiguous') {
    rejectFile(
      tally,
      file,
      'ambiguous-run-id',
      `the file name matches several runs (${resolution.runIds.map((id) => JSON.stringify(id)).join(', ')}); nothing in it was imported`,
    );
    return undefined;
  }
  if (resolution.kind === 'orphan') {
    tally.orphanRunIds.add(resolution.runId);
    context.warn('orphan', `${file.relativePath} matches no state file; imported under runId ${JSON.stringify(resolution.runId)}`);
  }
  return resolution.runId;
}

async function readApprovalFile(
  file: SourceFile,
  options: SourceReadOptions,
  runIds: RunIdIndex,
  context: NormalizeContext,
  tally: ImportTally,
): Promise<PendingRecord<Document>[]> {
  const runId = runIdForFile(file, runIds, context, tally);
  if (runId === undefined) return [];
  const read = await readWholeJson(file, options, tally);
  if (!read) return [];
  const elements = approvalElements(read.json);
  if (!elements.ok) {
    rejectFile(tally, file, elements.reason, elements.message);
    return [];
  }
  const records: PendingRecord<Document>[] = [];
  elements.doc.forEach((element, index) => {
    const origin: RecordOrigin = { file: `${file.relativePath}` };
    const result = storable(normalizeApproval(element, runId, context));
    if (result.ok) records.push({ doc: result.doc, origin });
    else rejectRecord(tally, 'approvals', origin, { reason: result.reason, message: `approval [${index}]: ${result.message}` });
  });
  return records;
}

async function readManifestFile(
  file: SourceFile,
  options: SourceReadOptions,
  context: NormalizeContext,
  tally: ImportTally,
): Promise<PendingRecord<Document>[]> {
  const read = await readWholeJson(file, options, tally);
  if (!read) return [];
  const header = readManifestHeader({ json: read.json, folderName: parentFolderName(file.relativePath) }, context);
  if (!header.ok) {
    rejectRecord(tally, 'artifacts', { file: file.relativePath }, header);
    return [];
  }
  const records: PendingRecord<Document>[] = [];
  header.doc.outputs.forEach((output, index) => {
    const origin: RecordOrigin = { file: file.relativePath };
    const result = storable(normalizeArtifactOutput(output, header.doc, context));
    if (result.ok) records.push({ doc: result.doc, origin });
    else rejectRecord(tally, 'artifacts', origin, { reason: result.reason, message: `output [${index}]: ${result.message}` });
  });
  return records;
}

async function readLogFile(
  file: SourceFile,
  options: SourceReadOptions,
  runIds: RunIdIndex,
  context: NormalizeContext,
  tally: ImportTally,
  batches: BatchBuffers,
  resume: ResumePoint | undefined,
): Promise<FilePosition> {
  const position: FilePosition = { endOffset: resume?.startOffset ?? 0, nextLine: resume?.startLine ?? 1, records: 0 };
  if (file.unreadable) {
    rejectFile(tally, file, 'unreadable', `the path ${file.unreadable}`);
    return position;
  }
  const runId = runIdForFile(file, runIds, context, tally);
  if (runId === undefined) return position;
  if (file.size === 0) {
    context.warn('empty-log-file', `${file.relativePath} is empty (0 bytes)`);
    return position;
  }
  const stem = fileStem(file.relativePath);
  try {
    for await (const lines of readLogLines(file.absolutePath, {
      startOffset: position.endOffset,
      startLine: position.nextLine,
      endOffset: file.size,
      maxLineBytes: options.maxLineBytes,
    })) {
      for (const line of lines) {
        position.endOffset = line.endOffset;
        position.nextLine = line.lineNumber + 1;
        const origin: RecordOrigin = { file: file.relativePath, line: line.lineNumber, byteOffset: line.byteOffset };
        if (line.problem === 'line-too-long') {
          rejectRecord(tally, 'logs', origin, { reason: 'line-too-long', message: `the line is ${line.byteLength} bytes, over the limit of ${options.maxLineBytes}` });
          continue;
        }
        if (line.problem === 'invalid-utf8') {
          rejectRecord(tally, 'logs', origin, { reason: 'invalid-utf8', message: 'the line is not valid UTF-8' });
          continue;
        }
        const text = line.text ?? '';
        if (text.trim().length === 0) continue; // blank lines are not records, but they are numbered
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (error) {
          const cut = line.terminated ? '' : ' (the last line has no line end: likely a write cut short by a crash)';
          rejectRecord(tally, 'logs', origin, { reason: 'invalid-json', message: `not valid JSON: ${(error as Error).message}${cut}` }, excerpt(text));
          continue;
        }
        let result = normalizeLogLine({ json, runId, fileStem: stem, lineNumber: line.lineNumber }, context);
        if (line.byteLength > LOG_LINE_SIZE_CHECK_BYTES) result = storable(result);
        if (!result.ok) {
          rejectRecord(tally, 'logs', origin, result, excerpt(text));
          continue;
        }
        position.records += 1;
        await batches.add('logs', { doc: result.doc, origin }, line.byteLength + 64);
      }
    }
  } catch (error) {
    // The file vanished or became unreadable mid-read: what was read stands, the rest is rejected.
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    tally.reject({
      collection: 'logs',
      file: file.relativePath,
      line: position.nextLine,
      byteOffset: position.endOffset,
      reason: 'unreadable',
      message: `reading stopped at line ${position.nextLine} (${code})`,
      hint: REASON_HINTS.unreadable,
    });
  }
  return position;
}
