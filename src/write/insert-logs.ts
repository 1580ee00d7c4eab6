import type { Collection, Document } from 'mongodb';
import type { LogDocument } from '../normalize/documents.js';
import type { ImportTally } from '../report/import-tally.js';
import { differingFields } from './compare-documents.js';
import type { PendingRecord } from './pending-record.js';
import { DUPLICATE_KEY } from './server-errors.js';
import { perDocumentErrors } from './write-errors.js';

export function logKey(doc: Document): string {
  return `${String(doc.runId)}#${String(doc.sequence)}`;
}

/**
 * Log entries are immutable: insert-if-absent. One unordered insertMany per batch (the fastest
 * write there is, and FerretDB reports per-document errors for it); a duplicate key means the
 * entry exists. Returns those records: the caller compares them with the stored entries
 * (`classifyExistingLogs`), at once or gathered from many batches into one read.
 */
export async function insertLogBatch(
  collection: Collection<Document>,
  records: readonly PendingRecord<LogDocument>[],
  tally: ImportTally,
): Promise<PendingRecord<LogDocument>[]> {
  if (records.length === 0) return [];
  let errors: ReturnType<typeof perDocumentErrors> = [];
  try {
    await collection.insertMany(
      records.map((record) => record.doc),
      { ordered: false, forceServerObjectId: false },
    );
  } catch (error) {
    errors = perDocumentErrors(error);
    if (errors === undefined) throw error; // an outage: the caller retries the whole batch
  }
  const duplicates: PendingRecord<LogDocument>[] = [];
  for (const writeError of errors) {
    const record = records[writeError.index];
    if (!record) continue;
    if (writeError.code === DUPLICATE_KEY) {
      duplicates.push(record);
    } else {
      tally.reject({
        collection: 'logs',
        file: record.origin.file,
        line: record.origin.line,
        byteOffset: record.origin.byteOffset,
        reason: 'server-refused',
        message: `the server refused the entry: ${writeError.errmsg ?? `code ${writeError.code}`}`,
        hint: 'Fix the line so it matches the documented shape, then re-run.',
      });
    }
  }
  tally.count('logs', 'inserted', records.length - errors.length);
  return duplicates;
}

/**
 * The entries already in the database: same content -> unchanged, other content -> conflict.
 * One streamed read of the runs involved (`runId: {$in}`, the unique index's prefix on MongoDB):
 * FerretDB answers any query by scanning the collection, so one read for many duplicates is what
 * keeps a resume after a crash fast there.
 */
export async function classifyExistingLogs(
  collection: Collection<Document>,
  records: readonly PendingRecord<LogDocument>[],
  tally: ImportTally,
): Promise<void> {
  const wanted = new Set(records.map((record) => logKey(record.doc)));
  const runIds = [...new Set(records.map((record) => record.doc.runId))];
  const existing = new Map<string, Document>();
  // useBigInt64 per read: `sequence` must come back as a bigint to compare equal to ours,
  // whatever options the caller's client was created with (the programmatic API takes any Db).
  for await (const doc of collection.find({ runId: { $in: runIds } }, { useBigInt64: true })) {
    const key = logKey(doc);
    if (wanted.has(key)) existing.set(key, doc);
  }
  for (const record of records) {
    const key = logKey(record.doc);
    const stored = existing.get(key);
    const fields = stored ? differingFields(record.doc, stored) : ['_id'];
    if (fields.length === 0) {
      tally.count('logs', 'unchanged');
    } else {
      tally.conflict({ collection: 'logs', key, file: record.origin.file, line: record.origin.line, fields });
    }
  }
}
