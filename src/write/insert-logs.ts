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
 * entry exists, and is then compared: the same content is `unchanged`, other content a `conflict`
 * that is left untouched.
 */
export async function insertLogBatch(
  collection: Collection<Document>,
  records: readonly PendingRecord<LogDocument>[],
  tally: ImportTally,
): Promise<void> {
  if (records.length === 0) return;
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
  if (duplicates.length > 0) await classifyExistingLogs(collection, duplicates, tally);
}

/** The entries already in the database: same content -> unchanged, other content -> conflict. */
async function classifyExistingLogs(
  collection: Collection<Document>,
  records: readonly PendingRecord<LogDocument>[],
  tally: ImportTally,
): Promise<void> {
  const byRun = new Map<string, bigint[]>();
  for (const { doc } of records) {
    const sequences = byRun.get(doc.runId) ?? [];
    sequences.push(doc.sequence);
    byRun.set(doc.runId, sequences);
  }
  const existing = new Map<string, Document>();
  for (const [runId, sequences] of byRun) {
    // useBigInt64 per read: `sequence` must come back as a bigint to compare equal to ours,
    // whatever options the caller's client was created with (the programmatic API takes any Db).
    const found = await collection.find({ runId, sequence: { $in: sequences } }, { useBigInt64: true }).toArray();
    for (const doc of found) existing.set(logKey(doc), doc);
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
