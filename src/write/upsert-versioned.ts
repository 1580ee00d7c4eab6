import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Document } from 'mongodb';
import type { ImportTally } from '../domain/import-tally.js';
import type { CollectionRole } from '../domain/collection-roles.js';
import { displayKey, displayName, recordKey } from '../domain/record-key.js';
import { fingerprintOfDocument } from '../domain/rejection-acceptance.js';
import type { ReadStrategy } from '../server/server-profile.js';
import { differingFields } from '../domain/compare-documents.js';
import { VERSION_FIELDS, decide } from '../domain/version-rules.js';
import { chunks, findWhereIn, type UpdateCommands } from '../server/server-commands.js';
import type { PendingRecord } from '../domain/pending-record.js';
import { classifyWriteError, writeErrorAnswer, type WriteErrorMeaning } from './refused-writes.js';
import { perDocumentErrors } from '../server/write-errors.js';
import { isTransientError } from '../server/server-errors.js';

/** How one versioned collection (runs, artifacts, approvals) is keyed and ordered in time. */
export interface VersionedCollectionSpec {
  role: CollectionRole;
  /** The unique key as text for maps: unambiguous for any runId and name (see record-key.ts). */
  keyOf(doc: Document): string;
  /** The unique key as reports show it. */
  labelOf(doc: Document): string;
  /**
   * The field that finds (at least) the stored documents of these records: `_id` for runs,
   * `runId` for artifacts and approvals (the unique index's prefix on MongoDB; a run has few of
   * them). One query per batch over the runs involved, not an `$or` of one clause per key, which
   * some servers evaluate clause by clause over the whole collection (see the server profile).
   */
  findField: '_id' | 'runId';
  /** Date fields that order versions, most significant first (see version-rules.ts). */
  versionFields: readonly string[];
  /** The spec's unique keys besides `_id`: a duplicate on one of them means the record exists. */
  uniqueKeys: ReadonlyArray<Readonly<Record<string, 1>>>;
}

export const RUNS_SPEC: VersionedCollectionSpec = {
  role: 'runs',
  keyOf: (doc) => String(doc._id),
  labelOf: (doc) => displayName(String(doc._id)),
  findField: '_id',
  versionFields: VERSION_FIELDS.runs,
  uniqueKeys: [],
};

export const ARTIFACTS_SPEC: VersionedCollectionSpec = {
  role: 'artifacts',
  keyOf: (doc) => recordKey(String(doc.runId), String(doc.name)),
  labelOf: (doc) => displayKey(String(doc.runId), String(doc.name)),
  findField: 'runId',
  versionFields: VERSION_FIELDS.artifacts,
  uniqueKeys: [{ runId: 1, name: 1 }],
};

export const APPROVALS_SPEC: VersionedCollectionSpec = {
  role: 'approvals',
  keyOf: (doc) => recordKey(String(doc.runId), String(doc.approvalId)),
  labelOf: (doc) => displayKey(String(doc.runId), String(doc.approvalId)),
  findField: 'runId',
  versionFields: VERSION_FIELDS.approvals,
  uniqueKeys: [{ runId: 1, approvalId: 1 }],
};

/** How this batch may talk to the server: from its profile. */
export interface VersionedWriteContext {
  updates: UpdateCommands;
  reads: Pick<ReadStrategy, 'lookup' | 'runEachLimit'>;
}

/** How often a record is re-decided when the database changes under the importer. */
const MAX_ROUNDS = 4;

/**
 * Writes a batch of runs, artifacts or approvals: read what is stored, decide per record, insert
 * the new ones (unordered insertMany) and replace the older ones with a guard on the stored
 * version, so a write by the live service between our read and our write is never clobbered.
 * Records the database changed under us are read and decided again.
 */
export async function upsertVersionedBatch(
  collection: Collection<Document>,
  spec: VersionedCollectionSpec,
  records: readonly PendingRecord<Document>[],
  tally: ImportTally,
  overwrite: boolean,
  server: VersionedWriteContext,
): Promise<void> {
  let pending = [...records];
  for (let round = 0; round < MAX_ROUNDS && pending.length > 0; round++) {
    pending = await writeRound(collection, spec, pending, tally, overwrite, server);
  }
  for (const record of pending) {
    tally.conflict({
      collection: spec.role,
      key: spec.labelOf(record.doc),
      file: record.origin.file,
      line: record.origin.line,
      fields: ['(changed by another writer during the import)'],
    });
  }
}

async function writeRound(
  collection: Collection<Document>,
  spec: VersionedCollectionSpec,
  records: readonly PendingRecord<Document>[],
  tally: ImportTally,
  overwrite: boolean,
  server: VersionedWriteContext,
): Promise<PendingRecord<Document>[]> {
  const stored = await fetchStored(collection, spec, records.map((record) => record.doc), server);
  const inserts: PendingRecord<Document>[] = [];
  const replaces: Array<{ record: PendingRecord<Document>; stored: Document }> = [];
  // Two records with one key in a batch (e.g. two state files claiming one runId): the second waits
  // for the next round, where it is decided against the first.
  const claimed = new Set<string>();
  const again: PendingRecord<Document>[] = [];
  for (const record of records) {
    const key = spec.keyOf(record.doc);
    if (claimed.has(key)) {
      again.push(record);
      continue;
    }
    claimed.add(key);
    const decision = decide(record.doc, stored.get(key), spec.versionFields, overwrite);
    const label = spec.labelOf(record.doc);
    const where = { collection: spec.role, key: label, file: record.origin.file, line: record.origin.line };
    switch (decision.action) {
      case 'insert':
        inserts.push(record);
        break;
      case 'replace':
        replaces.push({ record, stored: decision.stored });
        break;
      case 'unchanged':
        tally.count(spec.role, 'unchanged');
        break;
      case 'keptNewer':
        tally.keepNewer({ collection: spec.role, key: label, file: record.origin.file });
        break;
      case 'conflict':
        tally.conflict({ ...where, fields: decision.fields });
        break;
    }
  }
  again.push(...(await insertNew(collection, spec, inserts, tally)));
  again.push(...(await replaceOlder(collection, spec, replaces, tally, server)));
  return again;
}

async function fetchStored(
  collection: Collection<Document>,
  spec: VersionedCollectionSpec,
  docs: readonly Document[],
  server: VersionedWriteContext,
): Promise<Map<string, Document>> {
  const stored = new Map<string, Document>();
  for await (const doc of findWhereIn(collection, spec.findField, docs.map((doc) => doc[spec.findField] as unknown), server.reads)) {
    stored.set(spec.keyOf(doc), doc);
  }
  return stored;
}

/** Returns the records that met a duplicate key (someone inserted first): they are decided again. */
async function insertNew(
  collection: Collection<Document>,
  spec: VersionedCollectionSpec,
  inserts: readonly PendingRecord<Document>[],
  tally: ImportTally,
): Promise<PendingRecord<Document>[]> {
  if (inserts.length === 0) return [];
  let errors: ReturnType<typeof perDocumentErrors> = [];
  try {
    await collection.insertMany(inserts.map((record) => record.doc), { ordered: false });
  } catch (error) {
    errors = perDocumentErrors(error);
    if (errors === undefined) throw error;
  }
  const again: PendingRecord<Document>[] = [];
  for (const writeError of errors) {
    const record = inserts[writeError.index];
    if (!record) continue;
    const meaning = classifyWriteError(writeErrorAnswer(writeError), collection.collectionName, spec.uniqueKeys);
    if (meaning.kind === 'exists') {
      again.push(record);
    } else {
      refuse(tally, spec, record, meaning);
    }
  }
  tally.count(spec.role, 'inserted', inserts.length - errors.length);
  return again;
}

/**
 * Replaces stored documents guarded by their `_id` and version, keeping the stored `_id`. The
 * bulk result only says how many matched, and a server may stop an update batch at its first error
 * (`unorderedUpdateStopsAtFirstError` in the server profile),
 * so whenever not all matched, each one is read back to learn which were applied.
 */
async function replaceOlder(
  collection: Collection<Document>,
  spec: VersionedCollectionSpec,
  replaces: ReadonlyArray<{ record: PendingRecord<Document>; stored: Document }>,
  tally: ImportTally,
  server: VersionedWriteContext,
): Promise<PendingRecord<Document>[]> {
  if (replaces.length === 0) return [];
  const operations: AnyBulkWriteOperation<Document>[] = replaces.map(({ record, stored }) => {
    const filter: Document = { _id: stored._id as unknown };
    for (const field of spec.versionFields) filter[field] = (stored[field] as unknown) ?? null;
    const { _id: _ignored, ...replacement } = record.doc;
    return { replaceOne: { filter, replacement } };
  });
  let matched = 0;
  // Replacements the server refused for a reason of their own (a validator, a unique index the
  // spec does not have), by position in `replaces`: rejected, not tried again.
  const refused = new Map<number, WriteErrorMeaning & { kind: 'refused' }>();
  try {
    let offset = 0;
    let failure: unknown;
    for (const chunk of chunks(operations, server.updates.statementsPerCommand)) {
      try {
        matched += (await server.updates.run(() => collection.bulkWrite(chunk, { ordered: false }))).matchedCount;
      } catch (error) {
        const errors = perDocumentErrors(error);
        if (errors) {
          for (const writeError of errors) {
            const meaning = classifyWriteError(writeErrorAnswer(writeError), collection.collectionName, spec.uniqueKeys);
            if (meaning.kind === 'refused' && writeError.index >= 0 && writeError.index < chunk.length) refused.set(offset + writeError.index, meaning);
          }
        } else if (error instanceof MongoBulkWriteError && !isTransientError(error)) {
          // The whole command failed with no per-statement answer (a server that stops an update at
          // its first error reports that error for the command): the statements are sent one by
          // one, so that the one the server refuses is known and the others are applied. Without
          // this the others would be sent behind it again in every round and never written.
          matched += await replaceOneByOne(collection, chunk, server.updates, (index, meaning) => refused.set(offset + index, meaning), spec);
        } else {
          throw error;
        }
        // Settled by reading back below; the other chunks are still sent.
        failure ??= error;
      }
      offset += chunk.length;
    }
    if (failure !== undefined) matched = -1;
  } catch (error) {
    matched = -1;
    // Other errors (an outage) go to the retry wrapper; the batch is safe to repeat.
    if (!(error instanceof MongoBulkWriteError) || isTransientError(error)) throw error;
  }
  if (matched === replaces.length) {
    tally.count(spec.role, 'updated', replaces.length);
    return [];
  }
  const now = await fetchStored(collection, spec, replaces.map(({ record }) => record.doc), server);
  const again: PendingRecord<Document>[] = [];
  replaces.forEach(({ record }, position) => {
    const current = now.get(spec.keyOf(record.doc));
    const refusal = refused.get(position);
    if (current && differingFields(record.doc, current).length === 0) tally.count(spec.role, 'updated');
    else if (refusal) refuse(tally, spec, record, refusal);
    else again.push(record);
  });
  return again;
}

/**
 * Sends each replacement of `chunk` in a command of its own; a statement the server refuses is
 * reported to `onRefused` (its index in `chunk`) instead of stopping the others. Returns how many
 * matched. An outage is thrown (the retry wrapper repeats the whole batch, which is safe).
 */
async function replaceOneByOne(
  collection: Collection<Document>,
  chunk: readonly AnyBulkWriteOperation<Document>[],
  updates: UpdateCommands,
  onRefused: (index: number, meaning: WriteErrorMeaning & { kind: 'refused' }) => void,
  spec: VersionedCollectionSpec,
): Promise<number> {
  let matched = 0;
  for (let index = 0; index < chunk.length; index++) {
    try {
      matched += (await updates.run(() => collection.bulkWrite([chunk[index] as AnyBulkWriteOperation<Document>], { ordered: true }))).matchedCount;
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError) || isTransientError(error)) throw error;
      const writeError = perDocumentErrors(error)?.[0];
      const answer = writeError ? writeErrorAnswer(writeError) : { code: (error as { code?: number }).code, errmsg: error.message };
      const meaning = classifyWriteError(answer, collection.collectionName, spec.uniqueKeys);
      // A duplicate of the record's own key cannot come from a replacement by `_id`: refused.
      onRefused(index, meaning.kind === 'refused' ? meaning : { kind: 'refused', message: `the server refused it: ${answer.errmsg ?? 'duplicate key'}`, hint: 'Re-run; if it persists, report it with this message.' });
    }
  }
  return matched;
}

function refuse(tally: ImportTally, spec: VersionedCollectionSpec, record: PendingRecord<Document>, meaning: { message: string; hint: string }): void {
  tally.reject({
    collection: spec.role,
    file: record.origin.file,
    line: record.origin.line,
    reason: 'server-refused',
    message: `${spec.labelOf(record.doc)} was refused: ${meaning.message}`,
    hint: meaning.hint,
    fingerprint: fingerprintOfDocument(record.doc),
  });
}
