import { BSON, type Document } from 'mongodb';
import type { ImportTally } from '../../domain/import-tally.js';
import type { PendingRecord } from '../../domain/pending-record.js';
import type { FilePosition } from '../../domain/record-sink.js';
import type { SourceFile } from '../../domain/source-file.js';
import type { Normalized } from '../../normalize/invalid-record.js';
import { readJsonFile } from '../../scan/read-json-file.js';
import { MAX_DOCUMENT_BYTES, withoutBytes } from '../read-log-file.js';
import type { SourceReadOptions } from '../source-options.js';
import { rejectFile } from './rejections.js';

/** A whole JSON file (state, approvals, manifest) as read, before anything is reported. */
export interface WholeJson {
  json?: unknown;
  /** Set when the file could be parsed. */
  parsed: boolean;
  sha256?: string;
  /** The rejection to report, when it could not be parsed (reported only by the owning partition). */
  reject?: () => void;
}

export async function readWholeJson(file: SourceFile, options: SourceReadOptions, tally: ImportTally): Promise<WholeJson> {
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
export function storable<T extends Document>(result: Normalized<T>): Normalized<T> {
  if (!result.ok) return result;
  const size = BSON.calculateObjectSize(result.doc);
  if (size > MAX_DOCUMENT_BYTES) {
    return { ok: false, reason: 'document-too-large', message: `the document would be ${size} bytes, over MongoDB's 16 MiB limit` };
  }
  return result;
}

/** Where a whole JSON file ended; `rejected` is the driver's to count. */
export function wholeFilePosition(file: SourceFile, read: { records: PendingRecord<Document>[]; sha256?: string }): FilePosition {
  return {
    endOffset: file.size,
    nextLine: 1,
    records: read.records.length,
    rejected: 0,
    ...(read.sha256 ? { sha256: read.sha256 } : {}),
  };
}
