import { createHash, randomUUID, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Binary, type Collection, type Db } from 'mongodb';

/** Ledger documents are keyed by readable string ids. */
type LedgerDocument = { _id: string; [field: string]: unknown };
import { BackfillRuntimeError } from '../errors.js';
import type { SourceFile } from '../domain/source-file.js';
import { DUPLICATE_KEY } from '../server/server-errors.js';
import { UNBOUNDED_UPDATES, chunks, type UpdateCommands } from '../server/server-commands.js';
import {
  completeParts,
  decodePacked,
  encodeEntries,
  fileEntryId,
  pack,
  planCompaction,
  resolvePartition,
  sortStatusRows,
  statusRows,
  type CompactionStep,
  type DigestHead,
  type DigestPart,
  type FileStatusRow,
  type JournalDocument,
  type PackedEntry,
} from './file-journal.js';
import type { LedgerFileEntry, LedgerLease, LedgerSession, OrphanMarker } from './ledger-types.js';

/** How long a lease lives without renewal: a holder killed with -9 blocks others this long at most. */
export const DEFAULT_LEASE_TTL_MS = 60_000;

/**
 * A compaction is due during an import once this many journals were written since the digest and
 * they weigh as much as the digest: the work of compacting stays linear in the entries written,
 * and the documents every query of a FerretDB ledger decodes stay at most a few megabytes more
 * than the digest. Not fewer: a compaction decodes every entry of the partition while the import
 * is busiest, which raised the peak RSS of a 50,000-file first import from 232 to 327 MB with 32
 * (about 6 seconds of writes); the compaction at the end of the import costs little by comparison.
 */
export const COMPACT_AFTER_JOURNALS = 256;

/** Ids per delete command: FerretDB on SQLite binds one variable per matched document and refuses above 32,766. */
const DELETE_IDS_PER_COMMAND = 10_000;

/** The kinds of document that hold file entries (`file-journal.ts`). */
const FILE_KINDS = ['file', 'journal', 'digest', 'digest-part'];

/** What this store knows of a partition whose entries it loaded (or wrote). */
interface PartitionState {
  /**
   * The entries as of the load or this store's last compaction: the loaded map (shared with the
   * caller of `loadFiles`, never changed) or the deflated parts of the digest this store wrote
   * (a few bytes per file, so an import does not keep a second copy of every entry).
   */
  base: ReadonlyMap<string, LedgerFileEntry> | Buffer[];
  /** What this store wrote since, as written (deflated journal data), in order. */
  written: Buffer[];
  /** The generation the head document names (complete or not): a compaction replaces only that one. */
  headGeneration: string | null;
  /** The latest journal `at` the entries include (or the digest's): this store's next journal comes after it. */
  clock: number;
  /** Journals the next compaction folds in (and deletes). */
  journalIds: string[];
  legacyIds: string[];
  digestBytes: number;
  journalBytes: number;
  journalsSinceDigest: number;
  /**
   * False when the entries here may not be the ledger's: written without a load, or a journal
   * write failed (it may or may not have been stored). No digest is then made of them.
   */
  whole: boolean;
  /** A complete digest holds every entry (nothing to fold in). */
  digested: boolean;
}

export type CompactionResult =
  | { compacted: false; reason: string }
  | { compacted: true; entries: number; parts: number; journals: number; legacy: number };

/**
 * The importer's own collection (never one of the four data collections; the data documents get
 * no extra fields). Holds the file entries of each partition, packed (a digest and the journals
 * written since, see `file-journal.ts`), one document per session, one lease per partition and
 * the orphan markers. So the collection stays a few documents per partition plus the sessions
 * however many files were imported: on a server whose every query decodes the whole collection,
 * each ledger query stays cheap.
 */
export class LedgerStore {
  private readonly collection: Collection<LedgerDocument>;
  /** Partitions whose file entries this store loaded (or wrote): kept current for `compactFiles`. */
  private readonly files = new Map<string, PartitionState>();

  constructor(
    db: Db,
    collectionName: string,
    /** How update commands go to this server (its profile); `status` only reads. */
    private readonly updates: UpdateCommands = UNBOUNDED_UPDATES,
  ) {
    this.collection = db.collection<LedgerDocument>(collectionName);
  }

  /**
   * Unambiguous for any path: the partition (`K/N`) and the role (a fixed word) hold no `:`, so
   * everything after the third `:` is the path.
   */
  static fileEntryId(partition: string, file: Pick<SourceFile, 'role' | 'relativePath'>): string {
    return fileEntryId(partition, file);
  }

  static orphanMarkerId(file: Pick<SourceFile, 'role' | 'relativePath'>): string {
    return `orphan:${file.role}:${file.relativePath}`;
  }

  /** Every orphan marker (one small document per orphan log or approvals file ever imported). */
  async orphanMarkers(): Promise<OrphanMarker[]> {
    return (await this.collection.find({ kind: 'orphan' }).toArray()) as unknown as OrphanMarker[];
  }

  /** Remembers that a file's records are being written under its file-name runId (idempotent). */
  async markOrphan(marker: OrphanMarker): Promise<void> {
    await this.collection.replaceOne({ _id: marker._id }, marker as unknown as LedgerDocument, { upsert: true });
  }

  async clearOrphan(id: string): Promise<void> {
    await this.collection.deleteOne({ _id: id });
  }

  /**
   * Every file entry of a partition, keyed by entry id: per-file documents of earlier versions,
   * overlaid by its digest, overlaid by the journals written since (`file-journal.ts`). One query,
   * whatever the number of files. The map stays as loaded: what this store writes later is not
   * applied to it.
   */
  async loadFiles(partition: string): Promise<ReadonlyMap<string, LedgerFileEntry>> {
    const { resolved, headGeneration } = await this.readPartition(partition);
    this.files.set(partition, {
      base: resolved.entries,
      written: [],
      headGeneration,
      clock: resolved.clock,
      journalIds: resolved.journalIds,
      legacyIds: resolved.legacyIds,
      digestBytes: resolved.digestBytes,
      journalBytes: resolved.journalBytes,
      journalsSinceDigest: resolved.journalIds.length,
      whole: true,
      digested: resolved.digest !== undefined && resolved.journalIds.length === 0 && resolved.legacyIds.length === 0,
    });
    return resolved.entries;
  }

  /**
   * Records finished files (each entry replaces what the ledger held for its file): one journal
   * document per partition (more if its entries pack to over 4 MiB), inserted. An insert is no
   * scan on any server, so a first import of many files stays linear.
   */
  async writeFiles(entries: readonly LedgerFileEntry[]): Promise<void> {
    const byPartition = new Map<string, LedgerFileEntry[]>();
    for (const entry of entries) {
      const list = byPartition.get(entry.partition) ?? [];
      list.push(entry);
      byPartition.set(entry.partition, list);
    }
    for (const [partition, list] of byPartition) {
      let state = this.files.get(partition);
      if (!state) {
        state = { base: new Map(), written: [], headGeneration: null, clock: 0, journalIds: [], legacyIds: [], digestBytes: 0, journalBytes: 0, journalsSinceDigest: 0, whole: false, digested: false };
        this.files.set(partition, state);
      }
      for (const data of encodeEntries(list)) {
        // After every journal and digest this store loaded, whatever the clock says: a partition's
        // importers run one after the other (the lease), and each loads before it writes.
        const at = Math.max(Date.now(), state.clock + 1);
        state.clock = at;
        const journal: JournalDocument = { _id: `journal:${partition}:${randomUUID()}`, kind: 'journal', partition, at, sessionId: list[0]?.sessionId ?? null, files: list.length, data };
        try {
          await this.collection.insertOne({ ...journal, data: new Binary(data) });
        } catch (error) {
          state.whole = false;
          throw error;
        }
        state.written.push(data);
        state.journalIds.push(journal._id);
        state.journalBytes += data.byteLength;
        state.journalsSinceDigest += 1;
        state.digested = false;
      }
    }
  }

  /** Whether enough journals accumulated since the digest for `compactFiles` to be worth its while. */
  compactionDue(partition: string): boolean {
    const state = this.files.get(partition);
    return state !== undefined && state.whole && state.journalsSinceDigest >= COMPACT_AFTER_JOURNALS && state.journalBytes >= state.digestBytes;
  }

  /**
   * Folds a partition's journals (and per-file documents of earlier versions) into a new digest,
   * then deletes what it folded in: afterwards the partition's entries are a handful of documents
   * again. Only for a partition this store loaded, by the lease's holder (`beforeWrite` checks it);
   * nothing is written when nothing changed since the digest (an unchanged re-run). Safe to stop
   * anywhere (`planCompaction`): the new generation's parts go first, then the head switches to
   * them (only from the generation this store read: two compactions cannot both win), then what
   * the new head covers is deleted.
   */
  async compactFiles(partition: string, beforeWrite: () => Promise<void> = async () => undefined): Promise<CompactionResult> {
    const state = this.files.get(partition);
    if (!state) return { compacted: false, reason: 'not loaded' };
    if (!state.whole) return { compacted: false, reason: 'not loaded whole, or a ledger write failed in this run' };
    if (state.digested) return { compacted: false, reason: 'unchanged' };
    const base = state.base;
    const empty = Array.isArray(base) ? base.length === 0 : base.size === 0;
    if (empty && state.written.length === 0 && state.headGeneration === null && state.journalIds.length === 0 && state.legacyIds.length === 0) {
      return { compacted: false, reason: 'no entries' };
    }
    // Newest first (see planCompaction): this run's journals, latest first, then what it loaded.
    const written = state.written;
    function* layers(): Generator<readonly PackedEntry[]> {
      for (let index = written.length - 1; index >= 0; index -= 1) yield decodePacked(written[index] as Uint8Array);
      if (Array.isArray(base)) for (let index = base.length - 1; index >= 0; index -= 1) yield decodePacked(base[index] as Uint8Array);
      else for (const chunk of chunks([...base.values()], 1000)) yield chunk.map(pack);
    }
    const generation = randomUUID();
    const { steps, blocks, head } = planCompaction({
      partition,
      layers: layers(),
      clock: state.clock,
      generation,
      expected: state.headGeneration,
      journalIds: state.journalIds,
      legacyIds: state.legacyIds,
      now: new Date(),
    });
    await beforeWrite();
    for (const step of steps) {
      if (step.op === 'switch-head') await beforeWrite();
      if (!(await this.runStep(step))) {
        await this.collection.deleteMany({ kind: 'digest-part', partition, generation });
        state.whole = false;
        return { compacted: false, reason: 'the digest was replaced meanwhile by another importer' };
      }
    }
    const result: CompactionResult = { compacted: true, entries: head.entries, parts: head.parts, journals: state.journalIds.length, legacy: state.legacyIds.length };
    Object.assign(state, {
      base: blocks,
      written: [],
      headGeneration: generation,
      journalIds: [],
      legacyIds: [],
      digestBytes: blocks.reduce((sum, block) => sum + block.byteLength, 0),
      journalBytes: 0,
      journalsSinceDigest: 0,
      digested: true,
    } satisfies Partial<PartitionState>);
    return result;
  }

  /** Runs one compaction step; false when the head was not the expected generation any more. */
  private async runStep(step: CompactionStep): Promise<boolean> {
    switch (step.op) {
      case 'insert-part':
        await this.collection.insertOne({ ...step.part, data: new Binary(step.part.data) });
        return true;
      case 'switch-head': {
        const head = step.head as unknown as LedgerDocument;
        if (step.expected === null) {
          try {
            await this.collection.insertOne(head);
            return true;
          } catch (error) {
            if ((error as { code?: unknown }).code === DUPLICATE_KEY) return false;
            throw error;
          }
        }
        const result = await this.collection.replaceOne({ _id: step.head._id, generation: step.expected }, head);
        return result.matchedCount === 1;
      }
      case 'delete-journals':
      case 'delete-legacy':
        for (const ids of chunks(step.ids, DELETE_IDS_PER_COMMAND)) await this.updates.run(() => this.collection.deleteMany({ _id: { $in: ids } }));
        return true;
      case 'delete-other-parts':
        await this.updates.run(() => this.collection.deleteMany({ kind: 'digest-part', partition: step.partition, generation: { $ne: step.generation } }));
        return true;
    }
  }

  /** The stored documents of a partition's file entries (one query), resolved. */
  private async readPartition(partition: string): Promise<{ resolved: ReturnType<typeof resolvePartition>; headGeneration: string | null }> {
    const legacy: LedgerFileEntry[] = [];
    const parts: DigestPart[] = [];
    const journals: JournalDocument[] = [];
    let head: DigestHead | undefined;
    for await (const doc of this.collection.find({ partition, kind: { $in: FILE_KINDS } }, { useBigInt64: false, promoteBuffers: true })) {
      if (doc.kind === 'file') legacy.push(doc as unknown as LedgerFileEntry);
      else if (doc.kind === 'journal') journals.push(doc as unknown as JournalDocument);
      else if (doc.kind === 'digest-part') parts.push(doc as unknown as DigestPart);
      else head = doc as unknown as DigestHead;
    }
    return { resolved: resolvePartition(partition, { legacy, head, parts, journals }), headGeneration: head?.generation ?? null };
  }

  /** Every file entry of every partition (tests, and a look at the whole ledger). */
  async allFiles(): Promise<LedgerFileEntry[]> {
    const partitions = new Set<string>();
    for await (const doc of this.collection.find({ kind: { $in: FILE_KINDS } }, { projection: { partition: 1 } })) partitions.add(String(doc.partition));
    const all: LedgerFileEntry[] = [];
    for (const partition of [...partitions].sort()) all.push(...(await this.readPartition(partition)).resolved.entries.values());
    return all;
  }

  async writeSession(session: LedgerSession): Promise<void> {
    await this.collection.replaceOne({ _id: session._id }, session as unknown as LedgerDocument, { upsert: true });
  }

  async sessions(limit: number): Promise<LedgerSession[]> {
    return (await this.collection.find({ kind: 'session' }).sort({ startedAt: -1 }).limit(limit).toArray()) as unknown as LedgerSession[];
  }

  /**
   * Files per partition, kind and status with their record counts. A partition whose complete
   * digest holds every entry answers from the summary in its head; one with journals since (a run
   * that was stopped) or per-file documents of an earlier version is read and summed here (not
   * with `$group`, which a server without usable indexes runs over every document too).
   */
  async fileStatusCounts(): Promise<FileStatusRow[]> {
    const heads = new Map<string, DigestHead>();
    const parts = new Map<string, DigestPart[]>();
    const unfolded = new Set<string>();
    const journalAt = new Map<string, number>();
    const projection = { kind: 1, partition: 1, at: 1, format: 1, summary: 1, generation: 1, parts: 1, part: 1 };
    for await (const doc of this.collection.find({ kind: { $in: FILE_KINDS } }, { projection, useBigInt64: false })) {
      const partition = String(doc.partition);
      if (doc.kind === 'digest') heads.set(partition, doc as unknown as DigestHead);
      else if (doc.kind === 'digest-part') parts.set(partition, [...(parts.get(partition) ?? []), doc as unknown as DigestPart]);
      else if (doc.kind === 'file') unfolded.add(partition);
      else journalAt.set(partition, Math.max(journalAt.get(partition) ?? 0, Number(doc.at)));
    }
    const rows: FileStatusRow[] = [];
    for (const partition of new Set([...heads.keys(), ...unfolded, ...journalAt.keys()])) {
      const head = heads.get(partition);
      const summarized = completeParts(head, parts.get(partition) ?? []) !== undefined && !unfolded.has(partition) && (journalAt.get(partition) ?? 0) <= (head?.at ?? 0);
      if (summarized && head) rows.push(...head.summary);
      else rows.push(...statusRows((await this.readPartition(partition)).resolved.entries.values()));
    }
    return sortStatusRows(rows);
  }

  async leases(): Promise<LedgerLease[]> {
    return (await this.collection.find({ kind: 'lease' }).toArray()) as unknown as LedgerLease[];
  }

  /**
   * Takes the partition's lease, or fails with LEASE_HELD naming the holder. The filter matches a
   * free, expired or own lease; when someone else holds a live one, the upsert meets the unique
   * `_id` and the server refuses it: only one process can win, on every server.
   */
  async acquireLease(lease: Omit<LedgerLease, '_id' | 'kind'>, now: Date): Promise<void> {
    const id = `lease:${lease.partition}`;
    try {
      await this.collection.updateOne(
        { _id: id, $or: [{ expiresAt: { $lt: now } }, { sessionId: lease.sessionId }] },
        { $set: { kind: 'lease', ...lease } as Partial<LedgerDocument> },
        { upsert: true },
      );
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== DUPLICATE_KEY) throw error;
    }
    const holder = (await this.collection.findOne({ _id: id })) as unknown as LedgerLease | null;
    // A holder on this very host whose process is gone (killed with -9) cannot renew: take over at
    // once rather than make the operator wait for the expiry. Guarded by its session id, so of two
    // importers racing for the takeover only one wins.
    if (holder && holder.host === lease.host && !processIsAlive(holder.pid)) {
      const taken = await this.collection.updateOne({ _id: id, sessionId: holder.sessionId }, { $set: { kind: 'lease', ...lease } as Partial<LedgerDocument> });
      if (taken.matchedCount === 1) return;
    }
    const who = holder ? `${holder.host} pid ${holder.pid} (session ${holder.sessionId}) until ${holder.expiresAt.toISOString()}` : 'another importer';
    throw new BackfillRuntimeError(
      'LEASE_HELD',
      `another import of partition ${lease.partition} into this database is running: ${who}. ` +
        'Wait for it to finish; if it died on another machine, its lease expires by itself, then run the same command again.',
    );
  }

  async renewLease(partition: string, sessionId: string, expiresAt: Date): Promise<boolean> {
    const result = await this.collection.updateOne({ _id: `lease:${partition}`, sessionId }, { $set: { expiresAt } });
    return result.matchedCount === 1;
  }

  async releaseLease(partition: string, sessionId: string): Promise<void> {
    await this.collection.deleteOne({ _id: `lease:${partition}`, sessionId });
  }
}

/** Whether a process id is alive on this host (signal 0 checks without signalling). */
function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Checks that the first `hashedLength` bytes of a file have SHA-256 `expectedSha256`. Returns a
 * running hash of the first `length` bytes (to continue over the rest; `length <= hashedLength`)
 * when they match, else undefined.
 */
export async function verifiedPrefixHash(path: string, length: number, expectedSha256: string, hashedLength = length): Promise<Hash | undefined> {
  if (length > hashedLength) return undefined;
  const hash = createHash('sha256');
  let resumeHash: Hash | undefined = length === 0 ? hash.copy() : undefined;
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(1, Math.min(hashedLength, 1024 * 1024)));
    let position = 0;
    while (position < hashedLength) {
      // Stop each read at `length` once, to take the running hash there.
      const until = position < length ? length : hashedLength;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, until - position), position);
      if (bytesRead === 0) return undefined;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
      if (position === length) resumeHash = hash.copy();
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex') === expectedSha256 ? resumeHash : undefined;
}
