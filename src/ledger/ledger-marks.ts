import type { FilePosition, LogCheckpoint } from '../domain/record-sink.js';
import type { SourceFile } from '../domain/source-file.js';
import { LedgerStore } from './ledger-store.js';
import type { LedgerFileEntry } from './ledger-types.js';

/** Ledger writes per second at most 5: see LedgerMarks. */
const LEDGER_WRITE_INTERVAL_MS = 200;

type EntryProgress = Pick<LedgerFileEntry, 'sha256' | 'endOffset' | 'nextLine' | 'status' | 'records' | 'rejected' | 'runId' | 'hashedTo' | 'sentSize' | 'sentMtimeMs'>;

/**
 * Ledger entries for finished files. A file is finished only when every batch holding its records
 * was written. Entries are written in one command per LEDGER_WRITE_INTERVAL_MS at most, all that
 * finished meanwhile together: a file finished but not yet in the ledger is read again after a
 * crash (and, where a comparing read is a scan, its entries then cost one to compare), so the lag is kept short, while
 * a command per file would cost the server more than the data it describes.
 */
/** Files whose entries may be sent declared ahead of need, in one ledger write. */
const DECLARED_AHEAD = 100;

export class LedgerMarks {
  private pending: LedgerFileEntry[] = [];
  /** Per log file: its latest safe checkpoint, and the identity it was declared sent with. */
  private readonly safe = new Map<string, LogCheckpoint>();
  private readonly declaredAs = new Map<string, { sentSize: number; sentMtimeMs: number }>();
  /** Per log file: resolves once the ledger says the file may have been sent. */
  private readonly declarations = new Map<string, Promise<void>>();
  /** The log files this run will read, in order (see `sending`). */
  private upcoming: SourceFile[] = [];
  private upcomingIndex = new Map<string, number>();
  private writing: Promise<void> | undefined;
  /** Set by `flush` at the end of the import: write what is left without waiting. */
  private closing = false;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly ledger: LedgerStore,
    private readonly partition: string,
    private readonly optionsKey: string,
    private readonly sessionId: string,
    private readonly now: () => Date,
    /** Entry ids already in the ledger (loaded at start, grown as entries are written). */
    private readonly known: Set<string>,
    /** A lost ledger write only means the file is read again next time: report it, go on. */
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * A log file's progress so far: every line before `checkpoint.resumeOffset` was written, and
   * compared where it already existed. A kill in the middle of a large file then costs only the
   * lines after it. Superseded by the file's `add` when it is finished.
   */
  addPartial(file: SourceFile, checkpoint: LogCheckpoint): void {
    const id = LedgerStore.fileEntryId(this.partition, file);
    this.safe.set(id, checkpoint);
    this.enqueue(file, { ...this.partialFields(id), status: 'partial', records: 0, rejected: 0, runId: checkpoint.runId });
  }

  /** The log files this run will read, in the order it reads them: declared sent ahead of need. */
  setUpcoming(files: readonly SourceFile[]): void {
    this.upcoming = [...files];
    this.upcomingIndex = new Map(this.upcoming.map((file, index) => [LedgerStore.fileEntryId(this.partition, file), index]));
  }

  /**
   * Resolves once the ledger records that this log's entries may be sent (its size and mtime now):
   * call before sending its first batch. One write declares it and the next upcoming files, so the
   * wait is rare. A failed write only means a resume after a kill compares the entries it meets
   * again instead of trusting them; it is reported, and sending goes on.
   */
  sending(file: SourceFile, runId: string): Promise<void> {
    const id = LedgerStore.fileEntryId(this.partition, file);
    const known = this.declarations.get(id);
    if (known) return known;
    const at = this.upcomingIndex.get(id);
    const batch = [file];
    if (at !== undefined) {
      for (let next = at + 1; next < this.upcoming.length && batch.length < DECLARED_AHEAD; next++) {
        const candidate = this.upcoming[next] as SourceFile;
        const candidateId = LedgerStore.fileEntryId(this.partition, candidate);
        // Only files the ledger does not know yet are declared ahead (one insert); a known one
        // (resumed, grown) is declared when its own entries go out.
        if (!this.declarations.has(candidateId) && !this.known.has(candidateId)) batch.push(candidate);
      }
    }
    const entries = batch.map((candidate) => {
      const candidateId = LedgerStore.fileEntryId(this.partition, candidate);
      this.declaredAs.set(candidateId, { sentSize: candidate.size, sentMtimeMs: candidate.mtimeMs });
      return this.entry(candidate, { ...this.partialFields(candidateId), status: 'partial', records: 0, rejected: 0, runId: candidate === file ? runId : null });
    });
    const written = this.ledger
      .declareSending(entries, this.known)
      .then(() => {
        for (const entry of entries) this.known.add(entry._id);
      })
      .catch((error: unknown) => this.onError(error));
    for (const entry of entries) this.declarations.set(entry._id, written);
    return written;
  }

  /** The fields of a partial entry: its latest safe checkpoint (if any) and how it was declared sent. */
  private partialFields(id: string): Pick<LedgerFileEntry, 'sha256' | 'hashedTo' | 'endOffset' | 'nextLine' | 'sentSize' | 'sentMtimeMs'> {
    const safe = this.safe.get(id);
    const sent = this.declaredAs.get(id);
    return {
      sha256: safe?.sha256 ?? null,
      hashedTo: safe?.hashedTo ?? null,
      endOffset: safe?.resumeOffset ?? 0,
      nextLine: safe?.resumeLine ?? 1,
      sentSize: sent?.sentSize ?? null,
      sentMtimeMs: sent?.sentMtimeMs ?? null,
    };
  }

  /** `hadIssues`: some of the file's records met a conflict or a newer database copy, or were refused. */
  add(file: SourceFile, position: FilePosition, hadIssues: boolean): void {
    const id = LedgerStore.fileEntryId(this.partition, file);
    this.safe.delete(id);
    this.declaredAs.delete(id);
    this.enqueue(file, {
      sha256: position.sha256 ?? null,
      hashedTo: position.hashedTo ?? null,
      endOffset: position.endOffset,
      nextLine: position.nextLine,
      status: position.rejected > 0 || hadIssues || position.sha256 === undefined ? 'done-with-issues' : 'done',
      records: position.records,
      rejected: position.rejected,
      runId: position.runId ?? null,
    });
  }

  /** Queues one file's entry and starts writing. */
  private enqueue(file: SourceFile, progress: EntryProgress): void {
    this.pending.push(this.entry(file, progress));
    this.writing ??= this.writeAll();
  }

  /** One file's entry: the fields every entry has come from here. */
  private entry(file: SourceFile, progress: EntryProgress): LedgerFileEntry {
    return {
      _id: LedgerStore.fileEntryId(this.partition, file),
      kind: 'file',
      partition: this.partition,
      role: file.role,
      path: file.relativePath,
      size: file.size,
      mtimeMs: file.mtimeMs,
      ...progress,
      optionsKey: this.optionsKey,
      sessionId: this.sessionId,
      updatedAt: this.now(),
    };
  }

  /** Resolves once every entry added so far has been written (or reported as lost). */
  async flush(): Promise<void> {
    this.closing = true;
    this.wakeUp?.();
    while (this.writing || this.pending.length > 0) {
      this.writing ??= this.writeAll();
      await this.writing;
    }
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const started = Date.now();
      // One entry per file, the latest (a finished file's entry supersedes its partial ones).
      const entries = [...new Map(this.pending.map((entry) => [entry._id, entry])).values()];
      this.pending = [];
      try {
        await this.ledger.writeFiles(entries, this.known);
        for (const entry of entries) this.known.add(entry._id);
      } catch (error) {
        this.onError(error);
      }
      const wait = LEDGER_WRITE_INTERVAL_MS - (Date.now() - started);
      if (wait > 0 && !this.closing) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeUp = undefined;
      }
    }
    this.writing = undefined;
  }
}

