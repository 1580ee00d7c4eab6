import type { Collection, Document } from 'mongodb';
import type { LogDocument } from '../normalize/documents.js';
import type { ImportTally } from '../domain/import-tally.js';
import { displayKey, recordKey } from '../domain/record-key.js';
import { fingerprintOfDocument } from '../domain/rejection-acceptance.js';
import type { ReadStrategy } from '../server/server-profile.js';
import { differingFields } from '../domain/compare-documents.js';
import { findWhereIn } from '../server/server-commands.js';
import type { PendingRecord } from '../domain/pending-record.js';
import { classifyWriteError, writeErrorAnswer } from './refused-writes.js';
import { perDocumentErrors } from '../server/write-errors.js';

/** A log entry's unique key (runId, sequence) for maps; `sequence` as text whatever its BSON number type. */
export function logKey(doc: Document): string {
  return recordKey(String(doc.runId), String(doc.sequence));
}

/** The spec's unique key of pack_run_logs. */
const LOG_KEYS = [{ runId: 1, sequence: 1 }] as const;

/**
 * Log entries are immutable: insert-if-absent. One unordered insertMany per batch (the fastest
 * write there is, with per-document errors on every server measured); a duplicate key means the
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
        fingerprint: fingerprintOfDocument(record.doc),
      });
    }
  }
  tally.count('logs', 'inserted', records.length - errors.length);
  return duplicates;
}

const IDS_PER_QUERY = 1000;

/**
 * The entries already in the database: same content -> unchanged, other content -> conflict.
 * Read the way the server answers best (`ReadStrategy.lookup`): where the `_id` index serves
 * queries, our `_id`s (derived from each entry's key and time) find the entries this tool wrote
 * before (the usual case: batches in flight when an import was killed), and only keys not found
 * that way (an entry written by the live service, a line whose timestamp was edited) are read by
 * their runs; elsewhere everything is read by run.
 */
export async function classifyExistingLogs(
  collection: Collection<Document>,
  records: readonly PendingRecord<LogDocument>[],
  tally: ImportTally,
  reads: Pick<ReadStrategy, 'lookup' | 'runEachLimit'>,
): Promise<void> {
  const existing = new Map<string, Document>();
  if (reads.lookup === 'id-in') {
    const ids = records.map((record) => record.doc._id);
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      for await (const doc of findWhereIn(collection, '_id', ids.slice(i, i + IDS_PER_QUERY), reads)) existing.set(logKey(doc), doc);
    }
  }
  const missing = records.filter((record) => !existing.has(logKey(record.doc)));
  if (missing.length > 0) {
    const wanted = new Set(missing.map((record) => logKey(record.doc)));
    for await (const doc of findWhereIn(collection, 'runId', missing.map((record) => record.doc.runId), reads)) {
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
