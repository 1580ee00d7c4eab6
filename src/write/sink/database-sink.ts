import type { Db, Document } from 'mongodb';
import type { Logger } from 'pino';
import type { CollectionNames } from '../../config/collection-names.js';
import type { FilePosition, LogCheckpoint, RecordSink } from '../../domain/record-sink.js';
import type { LogDocument } from '../../normalize/documents.js';
import { ImportTally } from '../../domain/import-tally.js';
import type { CollectionRole } from '../../domain/collection-roles.js';
import type { SourceFile } from '../../domain/source-file.js';
import { describeServer, type ServerProfile } from '../../server/server-profile.js';
import { classifyExistingLogs, insertLogBatch } from '../insert-logs.js';
import type { PendingRecord } from '../../domain/pending-record.js';
import type { UpdateCommands } from '../../server/server-commands.js';
import { APPROVALS_SPEC, ARTIFACTS_SPEC, RUNS_SPEC, upsertVersionedBatch } from '../upsert-versioned.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../../server/with-retries.js';
import { BatchWindow } from './batch-window.js';
import { ExistingEntries } from './existing-entries.js';
import { FileCompletion, fileKey } from './file-completion.js';
import { LogCheckpoints } from './log-checkpoints.js';

/** Where finished files and safe checkpoints are remembered (the ledger), when they are. */
export interface FileMarks {
  addPartial(file: SourceFile, checkpoint: LogCheckpoint): void;
  add(file: SourceFile, position: FilePosition, hadIssues: boolean): void;
  flush(): Promise<void>;
}

export interface DatabaseSinkOptions {
  collections: CollectionNames;
  /** Write batches in flight at once. */
  concurrency: number;
  overwrite: boolean;
  retry?: RetryPolicy;
}

export interface DatabaseSinkServer {
  profile: ServerProfile;
  updates: UpdateCommands;
}

const SPECS = { runs: RUNS_SPEC, approvals: APPROVALS_SPEC, artifacts: ARTIFACTS_SPEC } as const;

/**
 * The import's `RecordSink`: writes each batch (keyed inserts for log entries, version-guarded
 * replacements for the rest), retrying transient errors, and reports finished files to the ledger.
 * It composes one small unit per invariant:
 * - `BatchWindow`: backpressure, batch ids, the first failure;
 * - `FileCompletion`: a file is done only when every record of it is written and compared;
 * - `ExistingEntries`: log entries that already existed are compared, many at a time;
 * - `LogCheckpoints`: a checkpoint reaches the ledger only once everything before it is safe.
 */
export class DatabaseSink implements RecordSink {
  private readonly window: BatchWindow;
  private readonly completion: FileCompletion;
  private readonly existing: ExistingEntries;
  private readonly checkpoints = new LogCheckpoints();
  private warnedAboutScans = false;

  constructor(
    private readonly db: Db,
    private readonly options: DatabaseSinkOptions,
    private readonly tally: ImportTally,
    private readonly logger: Logger,
    private readonly server: DatabaseSinkServer,
    /** Checked before every batch is sent: throws when this process may no longer write (lease lost). */
    private readonly beforeWrite: () => Promise<void>,
    private readonly marks?: FileMarks,
  ) {
    this.window = new BatchWindow(options.concurrency, () => this.completion.stop());
    this.completion = new FileCompletion((file, position, hadIssues) => {
      this.checkpoints.forget(fileKey(file));
      this.marks?.add(file, position, hadIssues);
    });
    this.existing = new ExistingEntries(this.completion, (records) => this.compareExisting(records), server.profile.reads.existingEntriesPerLookup);
  }

  async accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void> {
    this.window.throwIfFailed();
    // Where a comparing read is a scan, a scan beside inserts slows both: new batches wait for it.
    if (this.server.profile.reads.pauseWritesDuringLookup) {
      for (let busy = this.existing.inProgress(); busy; busy = this.existing.inProgress()) await busy.catch(() => undefined);
    }
    await this.window.waitForSlot();
    try {
      await this.beforeWrite();
    } catch (error) {
      this.fail(error);
      throw error;
    }
    const files = filesOf(role, batch);
    this.completion.batchStarted(files);
    this.window.start(
      (answered) => this.write(role, batch, answered),
      () => {
        this.completion.batchWritten(files);
        this.recordSafeCheckpoints();
      },
    );
  }

  logCheckpoint(file: SourceFile, checkpoint: LogCheckpoint): void {
    if (!this.marks) return;
    this.checkpoints.offer(file, checkpoint, this.window.lastStarted());
  }

  async fileHandedOver(file: SourceFile, position: FilePosition): Promise<void> {
    this.completion.handOver(file, position);
  }

  /** Waits for every batch, compares what is still gathered, flushes the ledger marks; rethrows the first failure. */
  async drain(): Promise<void> {
    try {
      await this.window.drain();
      await this.existing.compareGathered();
    } catch (error) {
      this.fail(error);
    }
    await this.marks?.flush();
    this.window.throwIfFailed();
  }

  private fail(error: unknown): void {
    this.window.fail(error);
  }

  private recordSafeCheckpoints(): void {
    if (this.checkpoints.size === 0 || this.window.hasFailed()) return;
    for (const { file, checkpoint } of this.checkpoints.takeSafe(this.window.answeredThrough(), (key) => this.completion.isClean(key))) {
      this.marks?.addPartial(file, checkpoint);
    }
  }

  private async write(role: CollectionRole, batch: PendingRecord<Document>[], answered: () => void): Promise<void> {
    const collection = this.db.collection(this.options.collections[role]);
    let existing: PendingRecord<LogDocument>[] = [];
    // Each attempt writes into a scratch tally so a retried batch is not counted twice.
    await this.retrying(role, async () => {
      // Checked again right before the command goes out (and before every retry, which may come
      // much later): a process frozen after `accept`'s check must not send this batch on waking.
      await this.beforeWrite();
      const scratch = new ImportTally(Number.MAX_SAFE_INTEGER);
      if (role === 'logs') existing = await insertLogBatch(collection, batch as PendingRecord<LogDocument>[], scratch);
      else await upsertVersionedBatch(collection, SPECS[role], batch, scratch, this.options.overwrite, { updates: this.server.updates, reads: this.server.profile.reads });
      this.mergeTally(role, scratch);
    });
    answered();
    if (role !== 'logs') return;
    this.existing.met(existing, this.window.lastStarted());
    if (this.existing.due(this.window.answeredThrough())) await this.existing.compareGathered();
  }

  private async compareExisting(records: readonly PendingRecord<LogDocument>[]): Promise<void> {
    const reads = this.server.profile.reads;
    if (reads.lookup !== 'id-in' && !this.warnedAboutScans) {
      this.warnedAboutScans = true;
      this.logger.warn(
        { entries: records.length, server: describeServer(this.server.profile) },
        'log entries already in the database are compared with a read this server answers by scanning the collection (MongoDB uses the _id index): expect a pause',
      );
    }
    const collection = this.db.collection(this.options.collections.logs);
    const started = Date.now();
    await this.retrying('logs', async () => {
      const scratch = new ImportTally(Number.MAX_SAFE_INTEGER);
      await classifyExistingLogs(collection, records, scratch, reads);
      this.mergeTally('logs', scratch);
    });
    this.logger.info({ entries: records.length, ms: Date.now() - started }, 'compared log entries that were already in the database');
  }

  private mergeTally(role: CollectionRole, scratch: ImportTally): void {
    this.tally.merge(scratch);
    for (const item of [...scratch.conflicts, ...scratch.keptNewer, ...scratch.rejections, ...scratch.accepted]) {
      this.completion.issue(fileKey({ role, relativePath: item.file }));
    }
  }

  private retrying(role: CollectionRole, step: () => Promise<void>): Promise<void> {
    const onRetry = (error: unknown, attempt: number, delayMs: number): void => {
      this.logger.warn({ role, attempt, delayMs, error: (error as Error).message }, 'transient database error; retrying the batch');
    };
    return withRetries(step, this.options.retry ?? DEFAULT_RETRY_POLICY, onRetry);
  }
}

/** The files a batch holds records of: a key per run of consecutive records of one file, not per record. */
function filesOf(role: CollectionRole, batch: readonly PendingRecord<Document>[]): Set<string> {
  const files = new Set<string>();
  let previous: string | undefined;
  for (const record of batch) {
    if (record.origin.file === previous) continue;
    previous = record.origin.file;
    files.add(fileKey({ role, relativePath: previous }));
  }
  return files;
}
