import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db, Document } from 'mongodb';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { importExitCode } from '../cli/exit-codes.js';
import type { CollectionNames } from '../config/collection-names.js';
import { ImportTally } from '../report/import-tally.js';
import { buildImportReport, type ImportReport } from '../report/import-report.js';
import { COLLECTION_ROLES, OUTCOMES, type CollectionRole, type Rejection } from '../report/types.js';
import { findSourceFiles, type SourceInventory } from '../scan/find-source-files.js';
import type { SourceReadOptions } from '../scan/source-options.js';
import { TOOL_NAME, TOOL_VERSION } from '../tool-version.js';
import { detectFerretDb, ensureSchema } from '../write/ensure-schema.js';
import { classifyExistingLogs, insertLogBatch, type StoredLookup } from '../write/insert-logs.js';
import type { PendingRecord } from '../write/pending-record.js';
import { APPROVALS_SPEC, ARTIFACTS_SPEC, RUNS_SPEC, upsertVersionedBatch } from '../write/upsert-versioned.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../write/with-retries.js';
import { readSourceRecords, type FilePosition, type LogCheckpoint, type ReadHooks, type RecordSink } from './read-source-records.js';
import { DEFAULT_LEASE_TTL_MS, LedgerStore, verifiedPrefixHash } from '../ledger/ledger-store.js';
import { LeaseKeeper } from '../ledger/lease-keeper.js';
import { WHOLE_SOURCE, partitionLabel, type LedgerFileEntry, type LedgerSession, type OrphanMarker, type Partition } from '../ledger/ledger-types.js';
import { UsageError } from '../errors.js';
import { quoteName } from '../normalize/record-key.js';
import type { RunIdIndex } from '../normalize/run-id-file-names.js';
import { fileStem } from '../scan/find-source-files.js';
import { rehomeOrphanFile } from './rehome-orphans.js';
import { partitionOf } from '../ledger/partition.js';
import { isUnchangedAndDone, logResumeCandidate } from '../ledger/skip-rules.js';
import type { SourceFile } from '../scan/find-source-files.js';
import type { ImportProgress, WorkTotals } from '../report/progress.js';
import type { LogDocument } from '../normalize/documents.js';

/** Everything `import` needs, resolved once by the CLI (or given by an API caller). */
export interface ImportOptions extends SourceReadOptions {
  collections: CollectionNames;
  /** Write batches in flight at once. */
  concurrency: number;
  /** Replace database documents that are newer than, or conflict with, the files. Off by default. */
  overwrite: boolean;
  /** Turn the logs timestamp index into a TTL index with this retention (days). Off by default. */
  logsRetentionDays?: number;
  retry?: RetryPolicy;
  /** `--partition K/N`; the whole source by default. */
  partition?: Partition;
  /** Remember finished files in the ledger and skip them next time (default true). */
  useLedger?: boolean;
  /** Lease lifetime without renewal (default 60 s). */
  leaseTtlMs?: number;
}

export interface ImportDependencies {
  db: Db;
  /** Server description for the report, credentials already removed. */
  serverLabel: string;
  logger: Logger;
  now?: () => Date;
  /** Called for every rejection as it happens (the --rejects file). */
  onRejection?: (rejection: Rejection) => void;
  /** Aborting stops reading; in-flight batches finish; the report says `complete: false`. */
  signal?: AbortSignal;
  /** Progress listener (bars on a TTY, periodic log lines); none by default. */
  progress?: ImportProgress;
}

/**
 * The import use case: scan, read, normalize, write, report. Record problems never throw; they
 * are outcomes in the report. It throws only when the database cannot be used at all.
 */
export async function runImport(options: ImportOptions, deps: ImportDependencies): Promise<ImportReport> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const tally = new ImportTally(undefined, deps.onRejection);
  const leaseTtlMs = checkedLeaseTtlMs(options.leaseTtlMs);
  // The source is scanned while the database is prepared (schema, lease, ledger): both take a
  // noticeable part of an unchanged re-run. The handler only keeps a failed scan from counting as
  // unhandled before it is awaited below.
  const scanning = findSourceFiles(options.source, options.globs);
  scanning.catch(() => undefined);

  const isFerretDb = await detectFerretDb(deps.db);
  await ensureSchema(deps.db, options.collections, { logsRetentionDays: options.logsRetentionDays }, (message, code) => {
    tally.warn(code ?? 'server-feature-missing', message);
    deps.logger.warn(message);
  }, isFerretDb);

  const partition = options.partition ?? WHOLE_SOURCE;
  const label = partitionLabel(partition);
  // The ledger collection always holds the lease (every writing run takes it, --no-ledger too),
  // the session and the orphan markers; `useLedger` only decides whether finished files are
  // remembered and skipped.
  const ledger = new LedgerStore(deps.db, options.collections.ledger);
  const useLedger = options.useLedger !== false;
  const session = newSession(options, deps, label, startedAt);
  const lease = new LeaseKeeper(ledger, { partition: label, sessionId: session.sessionId, host: session.host, pid: session.pid }, leaseTtlMs, now, deps.logger);
  await lease.acquire();
  let complete = true;
  let failure: unknown;
  try {
    await ledger.writeSession(session);
    const known = useLedger ? await ledger.loadFiles(label) : new Map<string, LedgerFileEntry>();
    const orphanMarkers = new Map((await ledger.orphanMarkers()).map((marker) => [marker._id, marker]));
    const inventory = await scanning;
    deps.logger.info({ files: countFiles(inventory) }, 'source scanned');
    const progress = deps.progress;
    progress?.start(workTotals(inventory));
    const optionsKey = outputOptionsKey(options);
    const marks = useLedger
      ? new LedgerMarks(ledger, label, optionsKey, session.sessionId, now, new Set(known.keys()), (error) =>
          deps.logger.warn({ error: (error as Error).message }, 'could not record finished files in the ledger; they will be read again next time'),
        )
      : undefined;
    const sink = new DatabaseSink(deps.db, options, tally, deps.logger, isFerretDb ? 'by-run' : 'by-id', () => lease.assertHeld(), marks);
    let skippedUnchanged = 0;
    const entryOf = (file: SourceFile): LedgerFileEntry | undefined => known.get(LedgerStore.fileEntryId(label, file));
    const mine = (stem: string): boolean => partitionOf(stem, partition.count) === partition.index;
    const hooks: ReadHooks = {
      skipFile: (file, attributedRunId) => {
        // --overwrite must see every file: the documents it is meant to replace are in "done" files.
        if (options.overwrite) return false;
        const entry = entryOf(file);
        const skip = isUnchangedAndDone(file, entry, optionsKey) && sameAttribution(entry, attributedRunId);
        if (skip) {
          skippedUnchanged += 1;
          progress?.fileDone(file.role, file.size);
        }
        return skip;
      },
      runIdOfSkipped: (file) => entryOf(file)?.runId ?? undefined,
      resumeLog: async (file, attributedRunId) => {
        const entry = logResumeCandidate(file, entryOf(file), optionsKey);
        if (!entry?.sha256 || !sameAttribution(entry, attributedRunId)) return undefined;
        const hash = await verifiedPrefixHash(file.absolutePath, entry.endOffset, entry.sha256, entry.hashedTo ?? entry.endOffset);
        if (!hash) return undefined;
        deps.logger.info(
          { file: file.relativePath, fromLine: entry.nextLine },
          entry.status === 'partial' ? 'log was imported in part by an earlier run; reading on from where it stopped' : 'log grew since the last import; reading only the new lines',
        );
        return { startOffset: entry.endOffset, startLine: entry.nextLine, hash };
      },
      orphanAttributed: async (file, runId) => {
        const marker: OrphanMarker = {
          _id: LedgerStore.orphanMarkerId(file),
          kind: 'orphan',
          role: file.role as OrphanMarker['role'],
          path: file.relativePath,
          runId,
          sessionId: session.sessionId,
          updatedAt: now(),
        };
        const knownMarker = orphanMarkers.get(marker._id);
        if (knownMarker?.runId === runId) return;
        await lease.assertHeld();
        await ledger.markOrphan(marker);
        orphanMarkers.set(marker._id, marker);
      },
      ...(partition.count > 1 ? { inPartition: mine } : {}),
    };
    let runIds: RunIdIndex | undefined;
    try {
      ({ runIds } = await readSourceRecords(inventory, options, tally, {
        accept: async (role, batch) => {
          if (deps.signal?.aborted) throw new StopReading();
          await sink.accept(role, batch);
          progress?.records(role, batch.length);
        },
        logCheckpoint: (file, checkpoint) => sink.logCheckpoint(file, checkpoint),
        fileHandedOver: async (file, position) => {
          await sink.fileHandedOver(file, position);
          progress?.fileDone(file.role, file.size);
        },
      }, hooks));
    } catch (error) {
      if (error instanceof StopReading) complete = false;
      else failure = error;
    }
    try {
      await sink.drain();
    } catch (error) {
      failure ??= error;
    }
    progress?.stop();
    if (complete && !failure && runIds) {
      await rehomeOrphans(deps.db, options, inventory, runIds, orphanMarkers.values(), mine, ledger, tally, () => lease.assertHeld(), deps.signal);
    }
    if (failure) throw failure;

    const report = buildImportReport(
      {
        command: 'import',
        tool: { name: TOOL_NAME, version: TOOL_VERSION },
        startedAt,
        finishedAt: now(),
        source: options.source,
        database: { name: deps.db.databaseName, server: deps.serverLabel },
        complete,
        files: { ...countFiles(inventory), ignored: inventory.ignoredFiles, skippedUnchanged },
        collectionNames: options.collections,
      },
      tally,
      importExitCode(complete, { rejected: tally.total('rejected'), conflict: tally.total('conflict') }),
    );
    deps.logger.info({ totals: report.totals, complete }, 'import finished');
    return report;
  } catch (error) {
    failure ??= error;
    throw error;
  } finally {
    // One place ends the session and gives the lease back, whatever happened above.
    session.finishedAt = now();
    session.totals = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, tally.total(outcome)])) as LedgerSession['totals'];
    session.outcome = failure ? 'failed' : !complete ? 'interrupted' : tally.total('rejected') + tally.total('conflict') > 0 ? 'complete-with-issues' : 'complete';
    await ledger.writeSession(session).catch((error: unknown) => deps.logger.warn({ error: (error as Error).message }, 'could not record the session end in the ledger'));
    await lease.release();
  }
}

/**
 * A log or approvals file is skipped or resumed only while its records go to the run they went to
 * last time (an entry written before attributions were recorded has none: the file is read again).
 * `attributedRunId` is undefined for state files and manifests, whose runId is in their content.
 */
function sameAttribution(entry: LedgerFileEntry | undefined, attributedRunId: string | null | undefined): boolean {
  if (attributedRunId === undefined) return true;
  return attributedRunId !== null && entry?.runId === attributedRunId;
}

/** Lease lifetimes the lease keeper can compute timers and dates from safely. */
const LEASE_TTL_RANGE_MS = { min: 1_000, max: 7 * 24 * 3_600_000 } as const;

function checkedLeaseTtlMs(value: number | undefined): number {
  if (value === undefined) return DEFAULT_LEASE_TTL_MS;
  if (!Number.isFinite(value) || value < LEASE_TTL_RANGE_MS.min || value > LEASE_TTL_RANGE_MS.max) {
    throw new UsageError(`leaseTtlMs must be between ${LEASE_TTL_RANGE_MS.min} and ${LEASE_TTL_RANGE_MS.max} (got ${String(value)})`);
  }
  return value;
}

/**
 * Moves the records of files that were imported as orphans and now belong to a run (their state
 * file is readable again, or matches only in another Unicode normal form). A marker whose copies
 * are all gone is cleared; one with copies left (changed since, or not ours) is reported.
 */
async function rehomeOrphans(
  db: Db,
  options: ImportOptions,
  inventory: SourceInventory,
  runIds: RunIdIndex,
  markers: Iterable<OrphanMarker>,
  mine: (stem: string) => boolean,
  ledger: LedgerStore,
  tally: ImportTally,
  beforeWrite: () => Promise<void>,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const marker of [...markers]) {
    if (signal?.aborted) return;
    const file = inventory.files[marker.role].find((candidate) => candidate.relativePath === marker.path);
    if (!file || file.unreadable || !mine(fileStem(file.relativePath))) continue;
    const resolution = runIds.resolve(fileStem(file.relativePath));
    if (resolution.kind !== 'run' || resolution.runId === marker.runId) continue;
    const result = await rehomeOrphanFile(db, options.collections, options, marker, file, resolution.runId, beforeWrite);
    if (result.moved > 0) {
      tally.warn('re-homed', `${result.moved} record(s) of ${quoteName(file.relativePath)} imported earlier under runId ${quoteName(marker.runId)} (no state file then) were moved to run ${quoteName(resolution.runId)}`);
    }
    if (result.remaining === 0) await ledger.clearOrphan(marker._id);
    else tally.warn('re-homed', `${result.remaining} document(s) under runId ${quoteName(marker.runId)} in ${options.collections[marker.role]} were kept: they differ from ${quoteName(file.relativePath)} as it is now, or another writer made them`);
  }
}

class StopReading extends Error {}

function workTotals(inventory: SourceInventory): WorkTotals {
  return Object.fromEntries(
    COLLECTION_ROLES.map((role) => [role, { files: inventory.files[role].length, bytes: inventory.files[role].reduce((sum, file) => sum + file.size, 0) }]),
  ) as WorkTotals;
}

export function countFiles(inventory: SourceInventory): Record<CollectionRole, number> {
  return Object.fromEntries(COLLECTION_ROLES.map((role) => [role, inventory.files[role].length])) as Record<CollectionRole, number>;
}

function newSession(options: ImportOptions, deps: ImportDependencies, partition: string, startedAt: Date): LedgerSession {
  const sessionId = randomUUID();
  return {
    _id: `session:${sessionId}`,
    kind: 'session',
    sessionId,
    startedAt,
    finishedAt: null,
    toolVersion: TOOL_VERSION,
    host: hostname(),
    pid: process.pid,
    partition,
    source: options.source,
    // Options as resolved, never the connection string (the server label is already redacted).
    options: {
      server: deps.serverLabel,
      database: deps.db.databaseName,
      globs: options.globs,
      collections: options.collections,
      enumStyle: options.enumStyle,
      batchSize: options.batchSize,
      concurrency: options.concurrency,
      overwrite: options.overwrite,
    },
    outcome: 'running',
    totals: null,
  };
}

/** The output options a file's records depend on; a change makes every file due again. */
function outputOptionsKey(options: ImportOptions): string {
  const names = options.collections;
  return `v1|enum=${options.enumStyle}|${names.runs},${names.logs},${names.approvals},${names.artifacts}`;
}

/**
 * Ledger entries for finished files. A file is finished only when every batch holding its records
 * was written. Entries are written in one command per LEDGER_WRITE_INTERVAL_MS at most, all that
 * finished meanwhile together: a file finished but not yet in the ledger is read again after a
 * crash (and on FerretDB its entries then cost a scan to compare), so the lag is kept short, while
 * a command per file would cost the server more than the data it describes.
 */
class LedgerMarks {
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

/**
 * Writes batches with bounded concurrency (p-limit). `accept` waits while `concurrency` batches
 * are in flight, which is the backpressure that keeps memory flat: the reader cannot run ahead.
 * The first failed batch stops further accepts and is rethrown.
 */
class DatabaseSink implements RecordSink {
  private readonly limit;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  /** Batches not yet written, per file (`role:path`). */
  private readonly outstanding = new Map<string, number>();
  /** Existing log entries waiting for `compareDuplicates`. */
  private duplicates: PendingRecord<LogDocument>[] = [];
  /**
   * Per file, its existing entries met and not compared yet. While a file has any, it holds one
   * outstanding count, so it is never marked done before every one of its records was compared.
   */
  private readonly uncompared = new Map<string, number>();
  /** Batches sent to the server (ids in sending order) and not yet answered. */
  private readonly runningBatches = new Set<number>();
  private nextBatchId = 0;
  /** The last batch sent when existing entries were last met: those up to it may bring more. */
  private duplicateHorizon = -1;
  private comparing: Promise<void> | undefined;
  private warnedAboutScans = false;
  /** Files some of whose records ended as conflict, kept-newer or server-refused: never skipped next time. */
  private readonly filesWithIssues = new Set<string>();
  /** Files whose every record has been accepted, waiting for their batches. */
  private readonly handedOver = new Map<string, { file: SourceFile; position: FilePosition }>();
  /** Per log file, in order: checkpoints and the last batch sent before each was offered. */
  private readonly checkpoints = new Map<string, Array<{ file: SourceFile; checkpoint: LogCheckpoint; afterBatch: number }>>();

  constructor(
    private readonly db: Db,
    private readonly options: ImportOptions,
    private readonly tally: ImportTally,
    private readonly logger: Logger,
    private readonly storedLookup: StoredLookup,
    /** Checked before every batch is sent: throws when this process may no longer write (lease lost). */
    private readonly beforeWrite: () => Promise<void>,
    private readonly marks?: LedgerMarks,
  ) {
    this.limit = pLimit(options.concurrency);
  }

  async accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void> {
    if (this.failure) throw this.failure;
    // New batches wait while existing entries are compared: on FerretDB that read is a scan, and a
    // scan beside inserts slows both (SQLite); on MongoDB the pause lasts an index lookup.
    while (this.comparing) await this.comparing.catch(() => undefined);
    while (this.inFlight.size >= this.options.concurrency) {
      await Promise.race(this.inFlight);
      if (this.failure) throw this.failure;
    }
    try {
      await this.beforeWrite();
    } catch (error) {
      this.failure ??= error;
      throw error;
    }
    const files = [...new Set(batch.map((record) => `${role}:${record.origin.file}`))];
    for (const key of files) this.outstanding.set(key, (this.outstanding.get(key) ?? 0) + 1);
    const batchId = this.nextBatchId++;
    this.runningBatches.add(batchId);
    const task = this.limit(() => this.write(role, batch, batchId)).then(
      () => {
        for (const key of files) {
          const left = (this.outstanding.get(key) ?? 1) - 1;
          this.outstanding.set(key, left);
          if (left === 0) this.finishFile(key);
        }
        this.advanceCheckpoints();
      },
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  /** The highest batch id up to which every batch sent has answered. */
  private answeredThrough(): number {
    let through = this.nextBatchId - 1;
    for (const id of this.runningBatches) through = Math.min(through, id - 1);
    return through;
  }

  logCheckpoint(file: SourceFile, checkpoint: LogCheckpoint): void {
    if (!this.marks) return;
    const key = `${file.role}:${file.relativePath}`;
    const queue = this.checkpoints.get(key) ?? [];
    queue.push({ file, checkpoint, afterBatch: this.nextBatchId - 1 });
    this.checkpoints.set(key, queue);
  }

  /**
   * Records the checkpoints that became safe: every batch sent before them has been written (not
   * just theirs: batches finish out of order), the file's existing entries have been compared,
   * and none of its records ended as a conflict, kept-newer or refused.
   */
  private advanceCheckpoints(): void {
    if (this.checkpoints.size === 0 || this.failure) return;
    const written = this.answeredThrough();
    for (const [key, queue] of this.checkpoints) {
      let safe: (typeof queue)[number] | undefined;
      while (queue.length > 0 && (queue[0]?.afterBatch ?? Number.POSITIVE_INFINITY) <= written) safe = queue.shift();
      if (queue.length === 0) this.checkpoints.delete(key);
      if (safe && !this.uncompared.has(key) && !this.filesWithIssues.has(key)) this.marks?.addPartial(safe.file, safe.checkpoint);
    }
  }

  async fileHandedOver(file: SourceFile, position: FilePosition): Promise<void> {
    const key = `${file.role}:${file.relativePath}`;
    this.handedOver.set(key, { file, position });
    if ((this.outstanding.get(key) ?? 0) === 0) this.finishFile(key);
  }

  private finishFile(key: string): void {
    const done = this.handedOver.get(key);
    if (!done || this.failure) return;
    this.checkpoints.delete(key);
    this.handedOver.delete(key);
    this.outstanding.delete(key);
    this.marks?.add(done.file, done.position, this.filesWithIssues.delete(key));
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (!this.failure) {
      try {
        await this.compareDuplicates();
      } catch (error) {
        this.failure = error;
      }
    }
    await this.marks?.flush();
    if (this.failure) throw this.failure;
  }
  private async write(role: CollectionRole, batch: PendingRecord<Document>[], batchId: number): Promise<void> {
    const collection = this.db.collection(this.options.collections[role]);
    let duplicates: PendingRecord<LogDocument>[] = [];
    try {
      // Each attempt writes into a scratch tally so a retried batch is not counted twice.
      await this.retrying(role, async () => {
        const scratch = new ImportTally(Number.MAX_SAFE_INTEGER);
        if (role === 'logs') duplicates = await insertLogBatch(collection, batch as PendingRecord<LogDocument>[], scratch);
        else await upsertVersionedBatch(collection, SPECS[role], batch, scratch, this.options.overwrite);
        this.mergeBatchTally(role, scratch);
      });
    } finally {
      this.runningBatches.delete(batchId);
    }
    if (role !== 'logs') return;
    if (duplicates.length === 0) {
      // Existing entries come in runs: the batches in flight when an earlier import was killed, or
      // a file imported before. Compare once such a run is over, that is once every batch sent
      // before the last duplicates were seen has answered (batches finish out of order; on
      // FerretDB one with duplicates is slow, inserted entry by entry), and not later: on
      // FerretDB the read scans the collection, which keeps growing.
      if (this.duplicates.length > 0 && this.answeredThrough() >= this.duplicateHorizon) await this.compareDuplicates();
      return;
    }
    this.duplicateHorizon = this.nextBatchId - 1;
    // Log entries that already exist are compared later, many batches in one read; their files
    // stay open (not marked done) until every such entry of theirs was compared.
    for (const record of duplicates) {
      const key = `logs:${record.origin.file}`;
      const waiting = this.uncompared.get(key) ?? 0;
      if (waiting === 0) this.outstanding.set(key, (this.outstanding.get(key) ?? 0) + 1);
      this.uncompared.set(key, waiting + 1);
    }
    this.duplicates.push(...duplicates);
    if (this.duplicates.length >= DUPLICATES_PER_COMPARISON) await this.compareDuplicates();
  }

  /**
   * Compares the gathered existing log entries with the stored ones (unchanged or conflict). One
   * comparison at a time: on FerretDB each is a scan, and two at once only share the CPU.
   */
  private async compareDuplicates(): Promise<void> {
    while (this.comparing) await this.comparing;
    if (this.duplicates.length === 0) return;
    this.comparing = this.compareGathered();
    try {
      await this.comparing;
    } finally {
      this.comparing = undefined;
    }
  }

  private async compareGathered(): Promise<void> {
    const records = this.duplicates;
    this.duplicates = [];
    if (records.length === 0) return;
    if (this.storedLookup === 'by-run' && !this.warnedAboutScans) {
      this.warnedAboutScans = true;
      this.logger.warn(
        { entries: records.length },
        'log entries already in the database are compared with a read that FerretDB answers by scanning the whole collection (MongoDB uses the _id index): expect a pause',
      );
    }
    const collection = this.db.collection(this.options.collections.logs);
    const started = Date.now();
    await this.retrying('logs', async () => {
      const scratch = new ImportTally(Number.MAX_SAFE_INTEGER);
      await classifyExistingLogs(collection, records, scratch, this.storedLookup);
      this.mergeBatchTally('logs', scratch);
    });
    this.logger.info({ entries: records.length, ms: Date.now() - started }, 'compared log entries that were already in the database');
    // A file's hold ends only when the entries gathered after this comparison began are compared too.
    const compared = new Map<string, number>();
    for (const record of records) {
      const key = `logs:${record.origin.file}`;
      compared.set(key, (compared.get(key) ?? 0) + 1);
    }
    for (const [key, count] of compared) {
      const waiting = (this.uncompared.get(key) ?? count) - count;
      if (waiting > 0) {
        this.uncompared.set(key, waiting);
        continue;
      }
      this.uncompared.delete(key);
      const left = (this.outstanding.get(key) ?? 1) - 1;
      this.outstanding.set(key, left);
      if (left === 0) this.finishFile(key);
    }
  }

  private mergeBatchTally(role: CollectionRole, scratch: ImportTally): void {
    this.tally.merge(scratch);
    for (const item of [...scratch.conflicts, ...scratch.keptNewer, ...scratch.rejections]) {
      this.filesWithIssues.add(`${role}:${item.file}`);
    }
  }

  private retrying(role: CollectionRole, step: () => Promise<void>): Promise<void> {
    const onRetry = (error: unknown, attempt: number, delayMs: number): void => {
      this.logger.warn({ role, attempt, delayMs, error: (error as Error).message }, 'transient database error; retrying the batch');
    };
    return withRetries(step, this.options.retry ?? DEFAULT_RETRY_POLICY, onRetry);
  }
}

/**
 * Existing log entries gathered before one comparing read. Bounds memory; on FerretDB every read
 * scans the collection, so fewer, larger reads make a resume after a crash fast.
 */
const DUPLICATES_PER_COMPARISON = 20_000;

/** Ledger writes per second at most 5: see LedgerMarks. */
const LEDGER_WRITE_INTERVAL_MS = 200;

const SPECS = { runs: RUNS_SPEC, approvals: APPROVALS_SPEC, artifacts: ARTIFACTS_SPEC } as const;
