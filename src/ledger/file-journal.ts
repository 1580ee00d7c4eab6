import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CollectionRole } from '../domain/collection-roles.js';
import type { LedgerFileEntry } from './ledger-types.js';

/**
 * How the ledger stores its file entries: packed, many per document. A server whose every query
 * decodes the whole collection (FerretDB; see the server profile) pays for each document the
 * ledger holds on every query, whatever it asks for: 50,000 one-document-per-file entries made
 * each ledger query there (a lease renewal, a session write, `status`) take seconds. Pure
 * functions here (packing, reading the stored documents, planning a compaction); the I/O is in
 * `ledger-store.ts`.
 *
 * - A **journal** document holds the entries one ledger write recorded (each replaces what the
 *   ledger held for its file), deflated, with `at`: a clock that orders a partition's journals.
 * - A **digest** holds every entry of a partition as of its `at`: a head document
 *   (`digest:<partition>`: its generation, how many parts, the status summary) and the parts of
 *   that generation with the entries. Parts of another generation than the head's are ignored
 *   (a compaction that stopped before switching the head, or before deleting the old parts).
 * - Entries written by earlier versions, one document per file (`kind: 'file'`), are read too.
 *
 * A partition's entries are the per-file documents, overlaid by the digest (if every part of the
 * head's generation is there), overlaid by the journals after the digest's `at` in `at` order:
 * what the per-file model held, each write replacing the file's document, in the order written
 * (a per-file document written after the digest or a journal is the later write: `resolvePartition`).
 */

/** A file entry as packed: the fields the ledger key and the document kind do not already give. */
export type PackedEntry = Omit<LedgerFileEntry, '_id' | 'kind' | 'partition' | 'updatedAt'> & { updatedAt: number };

/**
 * Raw bytes of one packed document stay under this (the server's document limit is 16 MiB;
 * deflated they are smaller still). 1 MiB rather than 4: a block is built whole (its lines, their
 * join, the bytes, the deflated copy), and at 4 MiB the end-of-import compaction of 50,000 files
 * was the import's peak RSS (+39 MB; +7 MB now). Readers take blocks of any size.
 */
export const PACKED_BYTES_LIMIT = 1024 * 1024;

/** The digest's packing; a head of another format is not read (its files are read again). */
export const DIGEST_FORMAT = 1;

/** The ledger key of a file entry: partition, role and path (`LedgerStore.fileEntryId`). */
export function fileEntryId(partition: string, file: { role: CollectionRole; relativePath: string }): string {
  return `file:${partition}:${file.role}:${file.relativePath}`;
}

export function digestHeadId(partition: string): string {
  return `digest:${partition}`;
}

/** A partition's digest head: which generation of parts holds its entries, and their status summary. */
export interface DigestHead {
  _id: string;
  kind: 'digest';
  partition: string;
  format: number;
  generation: string;
  parts: number;
  entries: number;
  /** Every journal of the partition up to this `at` is folded in. */
  at: number;
  summary: FileStatusRow[];
  writtenAt: Date;
}

export interface DigestPart {
  _id: string;
  kind: 'digest-part';
  partition: string;
  generation: string;
  part: number;
  data: Uint8Array;
}

export interface JournalDocument {
  _id: string;
  kind: 'journal';
  partition: string;
  at: number;
  sessionId: string | null;
  files: number;
  data: Uint8Array;
}

export function pack(entry: LedgerFileEntry): PackedEntry {
  const { _id, kind, partition, updatedAt, ...rest } = entry;
  void _id;
  void kind;
  void partition;
  const packed: Record<string, unknown> = {};
  // As the driver would store it: undefined as null, Int64 as a number (the ledger's numbers are sizes and offsets).
  for (const [field, value] of Object.entries(rest)) packed[field] = value === undefined ? null : typeof value === 'bigint' ? Number(value) : value;
  packed.updatedAt = updatedAt instanceof Date ? updatedAt.getTime() : Number(updatedAt);
  return packed as PackedEntry;
}

/**
 * Strings most entries share (the options key, the session, status, kind of file, a run's id):
 * one copy each instead of one per entry, which for 50,000 entries is several megabytes.
 */
export class SharedStrings {
  private readonly known = new Map<string, string>();
  get<T>(value: T): T {
    if (typeof value !== 'string') return value;
    const known = this.known.get(value);
    if (known !== undefined) return known as T;
    this.known.set(value, value);
    return value;
  }
}

function unpack(partition: string, packed: PackedEntry, shared: SharedStrings): LedgerFileEntry {
  packed.optionsKey = shared.get(packed.optionsKey);
  packed.sessionId = shared.get(packed.sessionId);
  packed.status = shared.get(packed.status);
  packed.role = shared.get(packed.role);
  packed.runId = shared.get(packed.runId);
  const entry = { _id: fileEntryId(partition, { role: packed.role, relativePath: packed.path }), kind: 'file', partition, ...packed };
  return entry as LedgerFileEntry;
}

/**
 * Packs entries, in the given order, into as few deflated blocks as fit under
 * `PACKED_BYTES_LIMIT` each (before compression). Each block is one document's `data`.
 */
export function encodeEntries(entries: Iterable<LedgerFileEntry>): Buffer[] {
  return encodePacked(mapIterable(entries, pack));
}

function* mapIterable<T, U>(items: Iterable<T>, map: (item: T) => U): Iterable<U> {
  for (const item of items) yield map(item);
}

/** `encodeEntries` for entries packed already (a compaction's, straight from the journals). */
export function encodePacked(entries: Iterable<PackedEntry>): Buffer[] {
  const blocks: Buffer[] = [];
  let current: string[] = [];
  let bytes = 0;
  const close = (): void => {
    if (current.length === 0) return;
    blocks.push(deflateRawSync(Buffer.from(`[${current.join(',')}]`), { level: 6 }));
    current = [];
    bytes = 0;
  };
  for (const entry of entries) {
    const line = JSON.stringify(entry);
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > PACKED_BYTES_LIMIT) close();
    current.push(line);
    bytes += size;
  }
  close();
  return blocks;
}

export function decodeEntries(partition: string, data: Uint8Array, shared = new SharedStrings()): LedgerFileEntry[] {
  return decodePacked(data).map((packed) => unpack(partition, packed, shared));
}

/** The packed entries of one journal or digest part, as stored (no ledger keys, dates or shared strings made). */
export function decodePacked(data: Uint8Array): PackedEntry[] {
  return JSON.parse(inflateRawSync(data).toString('utf8')) as PackedEntry[];
}

/** The stored documents of one partition's file entries, as read (any order). */
export interface PartitionDocuments {
  legacy: readonly LedgerFileEntry[];
  head: DigestHead | undefined;
  parts: readonly DigestPart[];
  journals: readonly JournalDocument[];
}

/** A partition's entries as its documents give them, and what a compaction needs to know of them. */
export interface ResolvedPartition {
  entries: Map<string, LedgerFileEntry>;
  /** The head whose parts are all there, if any (its generation is the one a compaction replaces). */
  digest: DigestHead | undefined;
  /** The latest `at` the entries include (the digest's or a journal's); the next journal comes after it. */
  clock: number;
  /** Journals folded into the entries, or covered by the digest: a compaction deletes them. */
  journalIds: string[];
  /** Per-file documents of earlier versions. */
  legacyIds: string[];
  /** Bytes of the digest's parts (deflated). */
  digestBytes: number;
  /** Bytes of the journals after the digest (deflated). */
  journalBytes: number;
}

/** The parts of the head's generation, in order, if every one is there; else undefined. */
export function completeParts(head: DigestHead | undefined, parts: readonly DigestPart[]): DigestPart[] | undefined {
  if (!head || head.format !== DIGEST_FORMAT) return undefined;
  const byIndex = new Map<number, DigestPart>();
  for (const part of parts) if (part.generation === head.generation) byIndex.set(part.part, part);
  const ordered: DigestPart[] = [];
  for (let index = 0; index < head.parts; index += 1) {
    const part = byIndex.get(index);
    if (!part) return undefined;
    ordered.push(part);
  }
  return ordered;
}

/** Journals in the order their writes were made. */
export function journalOrder(a: Pick<JournalDocument, 'at' | '_id'>, b: Pick<JournalDocument, 'at' | '_id'>): number {
  return a.at - b.at || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);
}

/** A stored time in milliseconds (a Date, or the packed form's number); 0 when absent or invalid. */
function millisOf(value: Date | number | undefined): number {
  const ms = value instanceof Date ? value.getTime() : Number(value);
  return Number.isFinite(ms) ? ms : 0;
}

/**
 * A partition's entries: per-file documents, overlaid by a complete digest, overlaid by the later
 * journals in order. A per-file document written after the digest or a journal (an earlier
 * version of the tool run in between, which writes only per-file documents) is newer than what
 * they hold for its file and wins over them; and the clock starts after every per-file document,
 * so what this version writes next wins over them in turn.
 */
export function resolvePartition(partition: string, documents: PartitionDocuments, shared = new SharedStrings()): ResolvedPartition {
  const entries = new Map<string, LedgerFileEntry>();
  const legacyIds: string[] = [];
  /** When each per-file document was written (ms). */
  const legacyAt = new Map<string, number>();
  let latestLegacy = 0;
  for (const doc of documents.legacy) {
    entries.set(doc._id, doc);
    legacyIds.push(doc._id);
    const at = millisOf(doc.updatedAt);
    legacyAt.set(doc._id, at);
    latestLegacy = Math.max(latestLegacy, at);
  }
  /** Sets an entry of a packed layer written at `at`, unless a per-file document is newer. */
  const overlay = (entry: LedgerFileEntry, at: number): void => {
    if ((legacyAt.get(entry._id) ?? -Infinity) > at) return;
    entries.set(entry._id, entry);
  };
  const parts = completeParts(documents.head, documents.parts);
  const digest = parts ? documents.head : undefined;
  const digestAt = digest?.at ?? 0;
  let digestBytes = 0;
  for (const part of parts ?? []) {
    digestBytes += part.data.byteLength;
    for (const entry of decodeEntries(partition, part.data, shared)) overlay(entry, digestAt);
  }
  let clock = Math.max(digestAt, latestLegacy);
  let journalBytes = 0;
  const journalIds: string[] = [];
  for (const journal of [...documents.journals].sort(journalOrder)) {
    journalIds.push(journal._id);
    // Folded into the digest already (a compaction stopped before deleting it).
    if (digest && journal.at <= digest.at) continue;
    for (const entry of decodeEntries(partition, journal.data, shared)) overlay(entry, journal.at);
    journalBytes += journal.data.byteLength;
    clock = Math.max(clock, journal.at);
  }
  return { entries, digest, clock, journalIds, legacyIds, digestBytes, journalBytes };
}

/**
 * One step of a compaction, in the order they must run: the new generation's parts, then the
 * head (only if it is still the generation the entries were read with: `expected`, or none), then
 * the deletions of what the new head covers. Stopped after any step, the partition's documents
 * still give exactly the same entries (`resolvePartition`).
 */
export type CompactionStep =
  | { op: 'insert-part'; part: DigestPart }
  | { op: 'switch-head'; head: DigestHead; expected: string | null }
  | { op: 'delete-journals'; ids: string[] }
  | { op: 'delete-other-parts'; partition: string; generation: string }
  | { op: 'delete-legacy'; ids: string[] };

/**
 * A partition's entries as a compaction reads them: layers newest first (the journals this store
 * wrote, latest first, then what it loaded); within a layer a key's last occurrence is its newest.
 */
export type LayersNewestFirst = Iterable<readonly PackedEntry[]>;

/**
 * The latest entry of every key of `layers`, each once: read newest first, an entry is kept when
 * its key was not met yet, so the entries stream straight into blocks and only the keys are held
 * (a compaction of 50,000 files holds 50,000 keys and one block, not 50,000 entries: it runs at
 * the end of every import, and holding them all was the import's peak of memory).
 */
function* latestOfEachKey(partition: string, layers: LayersNewestFirst): Iterable<PackedEntry> {
  const seen = new Set<string>();
  for (const layer of layers) {
    for (let index = layer.length - 1; index >= 0; index -= 1) {
      const entry = layer[index] as PackedEntry;
      const key = fileEntryId(partition, { role: entry.role, relativePath: entry.path });
      if (seen.has(key)) continue;
      seen.add(key);
      yield entry;
    }
  }
}

/**
 * The steps that fold a partition's entries (`layers`, all of them, as of `clock`) into a new
 * digest `generation` replacing `expected`, and delete the journals and per-file documents it
 * covers. The digest holds each file's latest entry once, in no particular order.
 */
export function planCompaction(input: {
  partition: string;
  layers: LayersNewestFirst;
  clock: number;
  generation: string;
  expected: string | null;
  journalIds: readonly string[];
  legacyIds: readonly string[];
  now: Date;
}): { steps: CompactionStep[]; blocks: Buffer[]; head: DigestHead } {
  const { partition, generation } = input;
  const summary = new StatusRowTally();
  let entries = 0;
  const counted = mapIterable(latestOfEachKey(partition, input.layers), (entry) => {
    entries += 1;
    summary.add({ partition, role: entry.role, status: entry.status, records: entry.records, rejected: entry.rejected });
    return entry;
  });
  const blocks = encodePacked(counted);
  const steps: CompactionStep[] = blocks.map((data, part) => ({
    op: 'insert-part',
    part: { _id: `digest:${partition}:${generation}:${part}`, kind: 'digest-part', partition, generation, part, data },
  }));
  const head: DigestHead = {
    _id: digestHeadId(partition),
    kind: 'digest',
    partition,
    format: DIGEST_FORMAT,
    generation,
    parts: blocks.length,
    entries,
    at: input.clock,
    summary: summary.rows(),
    writtenAt: input.now,
  };
  steps.push({ op: 'switch-head', head, expected: input.expected });
  if (input.journalIds.length > 0) steps.push({ op: 'delete-journals', ids: [...input.journalIds] });
  steps.push({ op: 'delete-other-parts', partition, generation });
  if (input.legacyIds.length > 0) steps.push({ op: 'delete-legacy', ids: [...input.legacyIds] });
  return { steps, blocks, head };
}

/** One row of `status`: files of a partition, kind and status, with their record counts. */
export interface FileStatusRow {
  partition: string;
  role: string;
  status: string;
  files: number;
  records: number;
  rejected: number;
}

/** The status rows of some entries (any partitions). */
export function statusRows(entries: Iterable<StatusRowInput>): FileStatusRow[] {
  const tally = new StatusRowTally();
  for (const entry of entries) tally.add(entry);
  return tally.rows();
}

type StatusRowInput = Pick<LedgerFileEntry, 'partition' | 'role' | 'status' | 'records' | 'rejected'>;

/** `status` rows added up one entry at a time. */
class StatusRowTally {
  private readonly byKey = new Map<string, FileStatusRow>();
  add(entry: StatusRowInput): void {
    const key = `${String(entry.partition)}\u0000${String(entry.role)}\u0000${String(entry.status)}`;
    const row = this.byKey.get(key) ?? { partition: String(entry.partition), role: String(entry.role), status: String(entry.status), files: 0, records: 0, rejected: 0 };
    row.files += 1;
    row.records += Number(entry.records ?? 0);
    row.rejected += Number(entry.rejected ?? 0);
    this.byKey.set(key, row);
  }
  rows(): FileStatusRow[] {
    return sortStatusRows([...this.byKey.values()]);
  }
}

/** The order `status` prints its rows in. */
export function sortStatusRows(rows: FileStatusRow[]): FileStatusRow[] {
  return rows.sort((a, b) => (a.partition + a.role + a.status).localeCompare(b.partition + b.role + b.status));
}
