import type { Db, Document } from 'mongodb';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { importExitCode } from '../cli/exit-codes.js';
import type { CollectionNames } from '../config/collection-names.js';
import { ImportTally } from '../report/import-tally.js';
import { buildImportReport, type ImportReport } from '../report/import-report.js';
import { COLLECTION_ROLES, type CollectionRole, type Rejection } from '../report/types.js';
import { findSourceFiles, type SourceInventory } from '../scan/find-source-files.js';
import type { SourceReadOptions } from '../scan/source-options.js';
import { TOOL_NAME, TOOL_VERSION } from '../tool-version.js';
import { detectFerretDb, ensureSchema } from '../write/ensure-schema.js';
import { insertLogBatch } from '../write/insert-logs.js';
import type { PendingRecord } from '../write/pending-record.js';
import { APPROVALS_SPEC, ARTIFACTS_SPEC, RUNS_SPEC, upsertVersionedBatch } from '../write/upsert-versioned.js';
import { DEFAULT_RETRY_POLICY, withRetries, type RetryPolicy } from '../write/with-retries.js';
import { readSourceRecords, type RecordSink } from './read-source-records.js';
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
}

/**
 * The import use case: scan, read, normalize, write, report. Record problems never throw; they
 * are outcomes in the report. It throws only when the database cannot be used at all.
 */
export async function runImport(options: ImportOptions, deps: ImportDependencies): Promise<ImportReport> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const tally = new ImportTally(undefined, deps.onRejection);
  const inventory = await findSourceFiles(options.source, options.globs);
  deps.logger.info({ files: countFiles(inventory) }, 'source scanned');

  const isFerretDb = await detectFerretDb(deps.db);
  await ensureSchema(deps.db, options.collections, { logsRetentionDays: options.logsRetentionDays }, (message) => {
    tally.warn('server-feature-missing', message);
    deps.logger.warn(message);
  }, isFerretDb);

  const sink = new DatabaseSink(deps.db, options, tally, deps.logger);
  let complete = true;
  try {
    await readSourceRecords(inventory, options, tally, {
      accept: async (role, batch) => {
        if (deps.signal?.aborted) throw new StopReading();
        await sink.accept(role, batch);
      },
    });
  } catch (error) {
    if (!(error instanceof StopReading)) {
      await sink.drain().catch(() => undefined);
      throw error;
    }
    complete = false;
  }
  await sink.drain();

  const report = buildImportReport(
    {
      command: 'import',
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      startedAt,
      finishedAt: now(),
      source: options.source,
      database: { name: deps.db.databaseName, server: deps.serverLabel },
      complete,
      files: { ...countFiles(inventory), ignored: inventory.ignoredFiles, skippedUnchanged: 0 },
      collectionNames: options.collections,
    },
    tally,
    importExitCode(complete, { rejected: tally.total('rejected'), conflict: tally.total('conflict') }),
  );
  deps.logger.info({ totals: report.totals, complete }, 'import finished');
  return report;
}

class StopReading extends Error {}

export function countFiles(inventory: SourceInventory): Record<CollectionRole, number> {
  return Object.fromEntries(COLLECTION_ROLES.map((role) => [role, inventory.files[role].length])) as Record<CollectionRole, number>;
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

  constructor(
    private readonly db: Db,
    private readonly options: ImportOptions,
    private readonly tally: ImportTally,
    private readonly logger: Logger,
  ) {
    this.limit = pLimit(options.concurrency);
  }

  async accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inFlight.size >= this.options.concurrency) {
      await Promise.race(this.inFlight);
      if (this.failure) throw this.failure;
    }
    const task = this.limit(() => this.write(role, batch)).then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async write(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void> {
    const collection = this.db.collection(this.options.collections[role]);
    const onRetry = (error: unknown, attempt: number, delayMs: number): void => {
      this.logger.warn({ role, attempt, delayMs, error: (error as Error).message }, 'transient database error; retrying the batch');
    };
    const policy = this.options.retry ?? DEFAULT_RETRY_POLICY;
    // Each attempt writes into a scratch tally so a retried batch is not counted twice.
    await withRetries(
      async () => {
        const scratch = new ImportTally(Number.MAX_SAFE_INTEGER);
        if (role === 'logs') await insertLogBatch(collection, batch as PendingRecord<LogDocument>[], scratch);
        else await upsertVersionedBatch(collection, SPECS[role], batch, scratch, this.options.overwrite);
        this.tally.merge(scratch);
      },
      policy,
      onRetry,
    );
  }
}

const SPECS = { runs: RUNS_SPEC, approvals: APPROVALS_SPEC, artifacts: ARTIFACTS_SPEC } as const;
