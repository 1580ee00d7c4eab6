import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';

/** Ledger documents are keyed by readable string ids. */
type LedgerDocument = { _id: string; [field: string]: unknown };
import { BackfillRuntimeError } from '../errors.js';
import type { SourceFile } from '../domain/source-file.js';
import { DUPLICATE_KEY } from '../server/server-errors.js';
import { perDocumentErrors } from '../server/write-errors.js';
import { UNBOUNDED_UPDATES, chunks, type UpdateCommands } from '../server/server-commands.js';
import type { LedgerFileEntry, LedgerLease, LedgerSession, OrphanMarker } from './ledger-types.js';

/** How long a lease lives without renewal: a holder killed with -9 blocks others this long at most. */
export const DEFAULT_LEASE_TTL_MS = 60_000;

/**
 * The importer's own collection (never one of the four data collections; the data documents get
 * no extra fields). Holds one entry per source file and partition, one per session, one lease
 * per partition.
 */
export class LedgerStore {
  private readonly collection: Collection<LedgerDocument>;

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
    return `file:${partition}:${file.role}:${file.relativePath}`;
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

  /** Every file entry of a partition, keyed by entry id. One partition's entries fit in memory (one small document per file). */
  async loadFiles(partition: string): Promise<Map<string, LedgerFileEntry>> {
    const entries = new Map<string, LedgerFileEntry>();
    const cursor = this.collection.find({ kind: 'file', partition });
    for await (const doc of cursor) entries.set(String(doc._id), doc as unknown as LedgerFileEntry);
    return entries;
  }

  /**
   * Records finished files. Entries the ledger did not hold yet are inserted (one insertMany);
   * known ones are replaced by `_id` in commands sized by the server profile. An upsert is a scan
   * on servers without usable indexes, so inserting new entries keeps a first import of many files
   * linear.
   */
  async writeFiles(entries: readonly LedgerFileEntry[], known: ReadonlySet<string>): Promise<void> {
    if (entries.length === 0) return;
    const fresh = entries.filter((entry) => !known.has(entry._id));
    const replace = entries.filter((entry) => known.has(entry._id));
    if (fresh.length > 0) {
      try {
        await this.collection.insertMany(fresh as unknown as LedgerDocument[], { ordered: false });
      } catch (error) {
        const duplicates = (perDocumentErrors(error) ?? []).filter((e) => e.code === DUPLICATE_KEY);
        if (duplicates.length === 0 || (perDocumentErrors(error) ?? []).length !== duplicates.length) throw error;
        // Another importer (or an earlier run we did not load) wrote them meanwhile: replace those.
        for (const e of duplicates) {
          const entry = fresh[e.index];
          if (entry) replace.push(entry);
        }
      }
    }
    const operations: AnyBulkWriteOperation<LedgerDocument>[] = replace.map((entry) => ({
      replaceOne: { filter: { _id: entry._id }, replacement: entry as unknown as LedgerDocument, upsert: true },
    }));
    for (const chunk of chunks(operations, this.updates.statementsPerCommand)) await this.updates.run(() => this.collection.bulkWrite(chunk, { ordered: true }));
  }

  async writeSession(session: LedgerSession): Promise<void> {
    await this.collection.replaceOne({ _id: session._id }, session as unknown as LedgerDocument, { upsert: true });
  }

  async sessions(limit: number): Promise<LedgerSession[]> {
    return (await this.collection.find({ kind: 'session' }).sort({ startedAt: -1 }).limit(limit).toArray()) as unknown as LedgerSession[];
  }

  /**
   * Files per partition, kind and status with their record counts. Summed here rather than with
   * `$group`, whose accumulators not every server has (see the server profile); one small projected document per file.
   */
  async fileStatusCounts(): Promise<Array<{ partition: string; role: string; status: string; files: number; records: number; rejected: number }>> {
    const rows = new Map<string, { partition: string; role: string; status: string; files: number; records: number; rejected: number }>();
    const cursor = this.collection.find({ kind: 'file' }, { projection: { partition: 1, role: 1, status: 1, records: 1, rejected: 1 } });
    for await (const doc of cursor) {
      const key = `${String(doc.partition)}\u0000${String(doc.role)}\u0000${String(doc.status)}`;
      const row = rows.get(key) ?? { partition: String(doc.partition), role: String(doc.role), status: String(doc.status), files: 0, records: 0, rejected: 0 };
      row.files += 1;
      row.records += Number(doc.records ?? 0);
      row.rejected += Number(doc.rejected ?? 0);
      rows.set(key, row);
    }
    return [...rows.values()].sort((a, b) => (a.partition + a.role + a.status).localeCompare(b.partition + b.role + b.status));
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
