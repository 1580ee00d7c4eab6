/**
 * Full dumps of the four data collections, sorted by their unique keys, for byte-for-byte
 * comparisons of two database states (a re-run must leave the database exactly as it was).
 *
 * Documents are fetched as raw BSON, exactly as the server returns them, so every value keeps its
 * BSON type (Int64 vs Int32 vs Double, Date vs string) and `_id`s are included. `ejson` renders
 * the same documents as canonical Extended JSON, one line each, for readable test diffs.
 */
import { BSON, type Db, type Document } from 'mongodb';

const { EJSON } = BSON;
import { DEFAULT_COLLECTION_NAMES } from '../../src/config/collection-names.js';
import type { CollectionRole } from '../../src/domain/collection-roles.js';

export interface CollectionDump {
  name: string;
  count: number;
  /** The documents' BSON bytes, concatenated in key order. */
  bson: Buffer;
  /** One canonical Extended JSON line per document, in key order. */
  ejson: string[];
}

export type DatabaseDump = Record<CollectionRole, CollectionDump>;

const ROLES: readonly CollectionRole[] = ['runs', 'logs', 'approvals', 'artifacts'];

type SortKey = Array<string | bigint>;

/** The unique key of each collection (layout page): `_id`, (runId, sequence), (runId, approvalId), (runId, name). */
const SORT_KEYS: Readonly<Record<CollectionRole, (doc: Document) => SortKey>> = {
  runs: (doc) => [keyPart(doc._id)],
  logs: (doc) => [keyPart(doc.runId), keyPart(doc.sequence)],
  approvals: (doc) => [keyPart(doc.runId), keyPart(doc.approvalId)],
  artifacts: (doc) => [keyPart(doc.runId), keyPart(doc.name)],
};

function keyPart(value: unknown): string | bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return typeof value === 'string' ? value : EJSON.stringify(value, { relaxed: false });
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const left = a[i];
    const right = b[i];
    if (left === right) continue;
    if (left === undefined) return -1;
    if (right === undefined) return 1;
    if (typeof left === 'bigint' && typeof right === 'bigint') return left < right ? -1 : 1;
    const l = String(left);
    const r = String(right);
    if (l !== r) return l < r ? -1 : 1;
  }
  return 0;
}

/** Dumps one collection sorted by the unique key of `role`. */
export async function dumpCollection(db: Db, role: CollectionRole, name: string): Promise<CollectionDump> {
  const raw = (await db.collection(name).find({}, { raw: true }).toArray()) as unknown as Uint8Array[];
  const entries = raw.map((bytes) => {
    const typed = BSON.deserialize(bytes, { promoteValues: false, promoteBuffers: false, useBigInt64: false });
    const keyed = BSON.deserialize(bytes, { useBigInt64: true });
    return { bytes: Buffer.from(bytes), typed, key: SORT_KEYS[role](keyed) };
  });
  entries.sort((a, b) => compareKeys(a.key, b.key));
  return {
    name,
    count: entries.length,
    bson: Buffer.concat(entries.map((entry) => entry.bytes)),
    ejson: entries.map((entry) => EJSON.stringify(entry.typed, { relaxed: false })),
  };
}

/** Dumps the four data collections (names default to the spec's). */
export async function dumpDatabase(
  db: Db,
  names: Readonly<Record<CollectionRole, string>> = DEFAULT_COLLECTION_NAMES,
): Promise<DatabaseDump> {
  const dump = {} as DatabaseDump;
  for (const role of ROLES) dump[role] = await dumpCollection(db, role, names[role]);
  return dump;
}

/** A dump as one text, the whole state of the four collections, for `toBe` comparisons. */
export function dumpText(dump: DatabaseDump): string {
  return ROLES.map((role) => `# ${dump[role].name} (${dump[role].count})\n${dump[role].ejson.join('\n')}`).join('\n');
}

/** True when two dumps hold the same BSON bytes, collection by collection. */
export function sameBytes(a: DatabaseDump, b: DatabaseDump): boolean {
  return ROLES.every((role) => a[role].bson.equals(b[role].bson));
}

