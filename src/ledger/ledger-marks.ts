import type { FilePosition, LogCheckpoint } from '../domain/record-sink.js';
import type { SourceFile } from '../domain/source-file.js';
import { LedgerStore } from './ledger-store.js';
import type { LedgerFileEntry } from './ledger-types.js';

/** Ledger writes per second at most 5: see LedgerMarks. */
const LEDGER_WRITE_INTERVAL_MS = 200;

/**
 * Ledger entries for finished files. A file is finished only when every batch holding its records
 * was written. Entries are written in one command per LEDGER_WRITE_INTERVAL_MS at most, all that
 * finished meanwhile together: a file finished but not yet in the ledger is read again after a
 * crash (and, where a comparing read is a scan, its entries then cost one to compare), so the lag is kept short, while
 * a command per file would cost the server more than the data it describes.
 */
export class LedgerMarks {
  private pending: LedgerFileEntry[] = [];
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
    /** A lost ledger write only means the file is read again next time: report it, go on. */
    private readonly onError: (error: unknown) => void,
    /**
     * Checks the lease before the ledger folds its journals into a digest (when enough of them
     * accumulated, see `LedgerStore.compactionDue`). A failed compaction loses nothing (the
     * journals stay): it is reported with `compaction.onError`.
     */
    private readonly compaction: { beforeWrite: () => Promise<void>; onError: (error: unknown) => void } = { beforeWrite: async () => undefined, onError: () => undefined },
  ) {}

  /**
   * A log file's progress so far: every line before `checkpoint.resumeOffset` was written, and
   * compared where it already existed. A kill in the middle of a large file then costs only the
   * lines after it. Superseded by the file's `add` when it is finished.
   */
  addPartial(file: SourceFile, checkpoint: LogCheckpoint): void {
    this.enqueue(file, {
      sha256: checkpoint.sha256,
      hashedTo: checkpoint.hashedTo,
      endOffset: checkpoint.resumeOffset,
      nextLine: checkpoint.resumeLine,
      status: 'partial',
      records: 0,
      rejected: 0,
      runId: checkpoint.runId,
    });
  }

  /** `hadIssues`: some of the file's records met a conflict or a newer database copy, or were refused. */
  add(file: SourceFile, position: FilePosition, hadIssues: boolean): void {
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

  /** Queues one file's entry (the fields every entry has come from here) and starts writing. */
  private enqueue(
    file: SourceFile,
    progress: Pick<LedgerFileEntry, 'sha256' | 'endOffset' | 'nextLine' | 'status' | 'records' | 'rejected' | 'runId' | 'hashedTo'>,
  ): void {
    this.pending.push({
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
    });
    this.writing ??= this.writeAll();
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
        await this.ledger.writeFiles(entries);
      } catch (error) {
        this.onError(error);
      }
      if (this.ledger.compactionDue(this.partition)) {
        await this.ledger.compactFiles(this.partition, this.compaction.beforeWrite).catch(this.compaction.onError);
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

