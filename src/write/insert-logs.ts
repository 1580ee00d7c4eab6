import type { Collection, Document } from 'mongodb';
import type { LogDocument } from '../normalize/documents.js';
import type { ImportTally } from '../report/import-tally.js';
import { displayKey, recordKey } from '../normalize/record-key.js';
import { differingFields } from './compare-documents.js';
import type { PendingRecord } from './pending-record.js';
import { classifyWriteError, writeErrorAnswer } from './refused-writes.js';
import { perDocumentErrors } from './write-errors.js';

/** A log entry's unique key (runId, sequence) for maps; `sequence` as text whatever its BSON number type. */
export function logKey(doc: Document): string {
  return recordKey(String(doc.runId), String(doc.sequence));
}

/** The spec's unique key of pack_run_logs. */
const LOG_KEYS = [{ runId: 1, sequence: 1 }] as const;

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
    // Only a duplicate of the entry's own key means "exists": a validation failure (121) or a
    // duplicate on an index the spec does not have is a refusal, reported with the rule or index.
    const meaning = classifyWriteError(writeErrorAnswer(writeError), collection.collectionName, LOG_KEYS);
    if (meaning.kind === 'exists') {
      duplicates.push(record);
    } else {
      tally.reject({
        collection: 'logs',
        file: record.origin.file,
        line: record.origin.line,
        byteOffset: record.origin.byteOffset,
        reason: 'server-refused',
        message: `the entry was refused: ${meaning.message}`,
        hint: meaning.hint,
      });
    }
  }
  tally.count('logs', 'inserted', records.length - errors.length);
  return duplicates;
}

/**
 * How stored log entries are found. `by-id` (MongoDB): `{_id: {$in}}` in chunks, an index lookup;
 * only keys not found that way are read by run. `by-run` (FerretDB v1.24): it answers every query,
 * even `{_id: <value>}` (its SQLite index expression does not match its own pushdown, measured
 * 170 ms per lookup at 200,000 entries), by scanning the collection, so one read of all the runs
 * involved is the cheapest there.
 */
export type StoredLookup = 'by-id' | 'by-run';

const IDS_PER_QUERY = 1000;

/**
 * The entries already in the database: same content -> unchanged, other content -> conflict.
 * Our `_id`s are derived from each entry's key and time, so an entry this tool wrote before (the
 * usual case: batches in flight when an import was killed) is found by `_id`; keys not found that
 * way (an entry written by the live service, or a line whose timestamp was edited) are read by
 * their runs (`runId: {$in}`, the unique index's prefix on MongoDB).
 */
export async function classifyExistingLogs(
  collection: Collection<Document>,
  records: readonly PendingRecord<LogDocument>[],
  tally: ImportTally,
  lookup: StoredLookup = 'by-id',
): Promise<void> {
  const existing = new Map<string, Document>();
  if (lookup === 'by-id') {
    const ids = records.map((record) => record.doc._id);
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      for await (const doc of collection.find({ _id: { $in: ids.slice(i, i + IDS_PER_QUERY) } }, { useBigInt64: true })) {
        existing.set(logKey(doc), doc);
      }
    }
  }
  const missing = records.filter((record) => !existing.has(logKey(record.doc)));
  if (missing.length > 0) {
    const wanted = new Set(missing.map((record) => logKey(record.doc)));
    const runIds = [...new Set(missing.map((record) => record.doc.runId))];
    // useBigInt64 per read: `sequence` must come back as a bigint to compare equal to ours,
    // whatever options the caller's client was created with (the programmatic API takes any Db).
    for await (const doc of collection.find({ runId: { $in: runIds } }, { useBigInt64: true })) {
      const key = logKey(doc);
      if (wanted.has(key)) existing.set(key, doc);
    }
  }
  for (const record of records) {
    const key = logKey(record.doc);
    const stored = existing.get(key);
    const fields = stored ? differingFields(record.doc, stored) : ['_id'];
    if (fields.length === 0) {
      tally.count('logs', 'unchanged');
    } else {
      tally.conflict({ collection: 'logs', key: displayKey(record.doc.runId, String(record.doc.sequence)), file: record.origin.file, line: record.origin.line, fields });
    }
  }
}
