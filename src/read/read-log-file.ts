import { createHash, type Hash } from 'node:crypto';
import { BSON } from 'mongodb';
import { REASON_HINTS } from '../normalize/invalid-record.js';
import { normalizeLogLine } from '../normalize/log-entry.js';
import type { NormalizeContext } from '../normalize/normalize-context.js';
import type { LogDocument } from '../normalize/documents.js';
import { quoteName } from '../domain/record-key.js';
import { fingerprintOf } from '../domain/rejection-acceptance.js';
import type { Rejection } from '../domain/outcomes.js';
import type { SourceFile } from '../domain/source-file.js';
import type { PendingRecord, RecordOrigin } from '../domain/pending-record.js';
import type { FilePosition, LogCheckpoint } from '../domain/record-sink.js';
import { excerpt } from '../scan/read-json-file.js';
import { readLogLines } from '../scan/read-log-lines.js';

/** MongoDB's document size limit, less a margin for the command envelope. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 - 16 * 1024;
/** Log lines shorter than this cannot exceed the document limit; skip the size computation. */
const LOG_LINE_SIZE_CHECK_BYTES = 4 * 1024 * 1024;

/** What reading one log file needs besides the file: plain data, so a worker thread can be given it. */
export interface LogReadInput {
  /** The run the file's records go to. */
  runId: string;
  /** The file's name without extension (a line naming another run is checked against it). */
  fileStem: string;
  maxLineBytes: number;
  enumStyle: NormalizeContext['enumStyle'];
}

/** Where a read starts when an earlier run imported the file's beginning; `hash` already covers the bytes before `startOffset`. */
export interface LogReadStart {
  startOffset: number;
  startLine: number;
  hash: Hash;
}

/**
 * What reading a log file produces, in file order. `record` may return a promise: awaiting it is
 * the backpressure, and what it throws ends the read (a stop request, a failed write).
 */
export interface LogReadEvents {
  record(record: PendingRecord<LogDocument>, approximateBytes: number): Promise<void> | void;
  reject(rejection: Rejection): void;
  warn: NormalizeContext['warn'];
  /** Every line before it was handed to `record` (offered only while the file has no rejection). */
  checkpoint(checkpoint: LogCheckpoint): Promise<void> | void;
}

/** Rejects one log line (or the rest of the file); `fingerprint` covers its bytes. */
export function logRejection(
  origin: RecordOrigin,
  result: { reason: Rejection['reason']; message: string },
  fingerprint: string,
  excerptText?: string,
): Rejection {
  return recordRejection('logs', origin, result, fingerprint, excerptText);
}

/** The rejection of one record (or the rest of a file), with the hint for its reason. */
export function recordRejection(
  collection: Rejection['collection'],
  origin: RecordOrigin & { element?: number },
  result: { reason: Rejection['reason']; message: string },
  fingerprint: string,
  excerptText?: string,
): Rejection {
  return {
    collection,
    ...origin,
    reason: result.reason,
    message: result.message,
    hint: REASON_HINTS[result.reason],
    ...(excerptText === undefined ? {} : { excerpt: excerptText }),
    fingerprint,
  };
}

/**
 * The fingerprint of a rejection whose bytes were not read (an unreadable path, a file too large,
 * a file name matching several runs): what was seen of it, so a change still shows as a change.
 */
export function withoutBytes(file: Pick<SourceFile, 'size' | 'mtimeMs'>, what: string): string {
  return fingerprintOf(`${what}\u0000${file.size}\u0000${file.mtimeMs}`);
}

/**
 * Reads one log file (from `start`, or its first byte), line by line: every line becomes a record
 * or a rejection, in order. Pure of any tally or database, so the same code runs in the main
 * thread and in the worker threads of `--workers` (see log-reader-pool.ts).
 */
export async function readLogFileRecords(
  file: Pick<SourceFile, 'relativePath' | 'absolutePath' | 'size' | 'mtimeMs'>,
  input: LogReadInput,
  start: LogReadStart | undefined,
  events: LogReadEvents,
): Promise<FilePosition> {
  const position: FilePosition = { endOffset: start?.startOffset ?? 0, nextLine: start?.startLine ?? 1, records: 0, rejected: 0 };
  const hash = start?.hash ?? createHash('sha256');
  const context: NormalizeContext = { enumStyle: input.enumStyle, warn: events.warn };
  if (file.size === 0) {
    context.warn('empty-log-file', `${quoteName(file.relativePath)} is empty (0 bytes)`);
    return position;
  }
  const reject = (rejection: Rejection): void => {
    position.rejected += 1;
    events.reject(rejection);
  };
  let hashedTo = position.endOffset;
  let sinkFailed = false;
  try {
    for await (const lines of readLogLines(file.absolutePath, {
      startOffset: position.endOffset,
      startLine: position.nextLine,
      endOffset: file.size,
      maxLineBytes: input.maxLineBytes,
      onBytes: (chunk) => {
        hash.update(chunk);
        hashedTo += chunk.length;
      },
    })) {
      for (const line of lines) {
        // A last line without its line end may still be being written (a live log): its records
        // are imported, but the position stays at its start, so the next run reads it again
        // (and compares it) instead of counting its missing line end as a new, empty line.
        if (line.terminated) {
          position.endOffset = line.endOffset;
          position.nextLine = line.lineNumber + 1;
        }
        const origin: RecordOrigin = { file: file.relativePath, line: line.lineNumber, byteOffset: line.byteOffset };
        if (line.problem === 'line-too-long') {
          reject(logRejection(origin, { reason: 'line-too-long', message: `the line is ${line.byteLength} bytes, over the limit of ${input.maxLineBytes}` }, fingerprintOf(`line-too-long ${line.byteLength}`)));
          continue;
        }
        if (line.problem === 'invalid-utf8') {
          reject(logRejection(origin, { reason: 'invalid-utf8', message: 'the line is not valid UTF-8' }, fingerprintOf(`invalid-utf8 ${line.byteLength}`)));
          continue;
        }
        const text = line.text ?? '';
        if (isBlank(text)) continue; // blank lines are not records, but they are numbered
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (error) {
          const cut = line.terminated ? '' : ' (the last line has no line end: likely a write cut short by a crash)';
          reject(logRejection(origin, { reason: 'invalid-json', message: `not valid JSON: ${(error as Error).message}${cut}` }, fingerprintOf(text), excerpt(text)));
          continue;
        }
        const result = normalizeLogLine({ json, runId: input.runId, fileStem: input.fileStem, lineNumber: line.lineNumber }, context);
        if (!result.ok) {
          reject(logRejection(origin, result, fingerprintOf(text), excerpt(text)));
          continue;
        }
        if (line.byteLength > LOG_LINE_SIZE_CHECK_BYTES) {
          const size = BSON.calculateObjectSize(result.doc);
          if (size > MAX_DOCUMENT_BYTES) {
            reject(logRejection(origin, { reason: 'document-too-large', message: `the document would be ${size} bytes, over MongoDB's 16 MiB limit` }, fingerprintOf(text), excerpt(text)));
            continue;
          }
        }
        position.records += 1;
        try {
          // Awaited only when the record filled a batch: an await per line costs a promise and a turn.
          const handedOver = events.record({ doc: result.doc, origin }, line.byteLength + 64);
          if (handedOver) await handedOver;
        } catch (error) {
          sinkFailed = true;
          throw error;
        }
      }
      // Every line of this read chunk is handed over and the hash covers the chunk: a later run
      // may resume here (after a kill in the middle of a large file) instead of at line 1. Not
      // once the file has a rejection: a resumed run would no longer report it.
      if (hashedTo < file.size && position.records > 0 && position.rejected === 0) {
        await events.checkpoint({ runId: input.runId, resumeOffset: position.endOffset, resumeLine: position.nextLine, hashedTo, sha256: hash.copy().digest('hex') });
      }
    }
  } catch (error) {
    // A stop request (SIGINT/SIGTERM) or a failed write ends the whole read, not just this file.
    if (sinkFailed) throw error;
    // The file vanished or became unreadable mid-read: what was read stands, the rest is rejected.
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    reject(
      logRejection(
        { file: file.relativePath, line: position.nextLine, byteOffset: position.endOffset },
        { reason: 'unreadable', message: `reading stopped at line ${position.nextLine} (${code})` },
        withoutBytes(file, `stopped ${position.endOffset} ${code}`),
      ),
    );
    return position;
  }
  position.sha256 = hash.digest('hex');
  position.hashedTo = hashedTo;
  return position;
}

/** Whitespace only (without allocating a trimmed copy: this runs once per log line). */
function isBlank(text: string): boolean {
  return text.length === 0 || (text.charCodeAt(0) !== 123 && !/\S/.test(text));
}
