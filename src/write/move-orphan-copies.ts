import type { Collection, Document, Filter } from 'mongodb';
import { recordKey } from '../domain/record-key.js';
import { differingFields } from '../domain/compare-documents.js';

/**
 * One record of a file now attributed to its run (`placed`), and the copy an earlier import wrote
 * of it under the file-name runId while no state file matched (`orphanCopy`, same key field).
 */
export interface OrphanPair {
  placed: Document;
  orphanCopy: Document;
}

/** How a role's documents are told apart within a run (`sequence`, `approvalId`). */
export type WithinRunKeyField = 'sequence' | 'approvalId';

/**
 * Deletes the orphan copies that are exactly what this tool wrote (same derived `_id`, same
 * content) and whose record the run now holds identically. Anything else under the file-name
 * runId (another writer's document, a copy of a line that changed since) is left alone. Returns
 * how many copies were deleted. Idempotent: a copy already gone is simply not found again.
 */
export async function moveOrphanCopies(collection: Collection<Document>, keyField: WithinRunKeyField, pairs: readonly OrphanPair[]): Promise<number> {
  if (pairs.length === 0) return 0;
  const runIds = [...new Set(pairs.flatMap((pair) => [String(pair.placed.runId), String(pair.orphanCopy.runId)]))];
  const keys = [...new Set(pairs.map((pair) => pair.placed[keyField] as unknown))];
  const stored = new Map<string, Document>();
  // The unique index's fields: an index lookup on MongoDB.
  for await (const doc of collection.find({ runId: { $in: runIds }, [keyField]: { $in: keys } }, { useBigInt64: true })) {
    stored.set(recordKey(String(doc.runId), String(doc[keyField])), doc);
  }
  const deletable = [];
  for (const { placed, orphanCopy } of pairs) {
    const storedPlaced = stored.get(recordKey(String(placed.runId), String(placed[keyField])));
    const storedCopy = stored.get(recordKey(String(orphanCopy.runId), String(orphanCopy[keyField])));
    if (!storedPlaced || !storedCopy) continue;
    if (differingFields(placed, storedPlaced).length > 0 || differingFields(orphanCopy, storedCopy).length > 0) continue;
    if (!sameId(orphanCopy._id, storedCopy._id)) continue;
    deletable.push(storedCopy._id as unknown);
  }
  if (deletable.length === 0) return 0;
  const orphanRunIds = [...new Set(pairs.map((pair) => String(pair.orphanCopy.runId)))];
  const result = await collection.deleteMany({ _id: { $in: deletable }, runId: { $in: orphanRunIds } } as Filter<Document>);
  return result.deletedCount;
}

function sameId(a: unknown, b: unknown): boolean {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- _id values are strings or ObjectIds, whose text is their identity
  return a !== undefined && b !== undefined && String(a) === String(b);
}
