import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { CollectionNames } from '../config/collection-names.js';
import { validateLeaseTtlMs } from '../config/limits.js';
import { DEFAULT_LEASE_TTL_MS, LedgerStore, verifiedPrefixHash } from '../ledger/ledger-store.js';
import { LedgerMarks } from '../ledger/ledger-marks.js';
import { LeaseKeeper } from '../ledger/lease-keeper.js';
import { WHOLE_SOURCE, partitionLabel, type Partition } from '../domain/partition.js';
import type { LedgerFileEntry, LedgerSession, OrphanMarker } from '../ledger/ledger-types.js';
import { partitionOf } from '../domain/partition.js';
import { isUnchangedAndDone, logResumeCandidate } from '../ledger/skip-rules.js';
import { quoteName } from '../domain/record-key.js';
import type { RunIdIndex } from '../normalize/run-id-file-names.js';
import { ImportTally } from '../domain/import-tally.js';
import { buildImportReport, type ImportReport } from '../report/import-report.js';
import type { ImportProgress, WorkTotals } from '../report/progress.js';
import type { RejectionAcceptance } from '../domain/rejection-acceptance.js';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import { OUTCOMES, type Rejection } from '../domain/outcomes.js';
import { fileStem, findSourceFiles, type SourceInventory } from '../scan/find-source-files.js';
import type { SourceFile } from '../domain/source-file.js';
import type { SourceReadOptions } from '../read/source-options.js';
import { describeServer, detectServerProfile, schemaServer } from '../server/server-profile.js';
import { TOOL_NAME, TOOL_VERSION } from '../tool-version.js';
import { ensureSchema } from '../write/ensure-schema.js';
import { updateCommands } from '../server/server-commands.js';
import { DatabaseSink } from '../write/sink/database-sink.js';
import type { RetryPolicy } from '../server/with-retries.js';
import { readSourceRecords, type ReadHooks } from '../read/read-source-records.js';
import { rehomeOrphanFile } from './rehome-orphans.js';

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
  /** Rejections the operator reviewed and accepted as not imported (`--accept-rejections`). */
  acceptance?: RejectionAcceptance;
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
  const tally = new ImportTally(undefined, deps.onRejection, options.acceptance);
  // Checked here too (not only by the CLI): timers and dates are computed from it.
  const leaseTtlMs = options.leaseTtlMs === undefined ? DEFAULT_LEASE_TTL_MS : validateLeaseTtlMs(options.leaseTtlMs);
  // The source is scanned while the database is prepared (schema, lease, ledger): both take a
  // noticeable part of an unchanged re-run. The handler only keeps a failed scan from counting as
  // unhandled before it is awaited below.
  const scanning = findSourceFiles(options.source, options.globs);
  scanning.catch(() => undefined);

  const probeCollections = [options.collections.ledger, options.collections.logs, options.collections.runs];
  let profile = await detectServerProfile(deps.db, probeCollections);
  await ensureSchema(deps.db, options.collections, { logsRetentionDays: options.logsRetentionDays }, (message, code) => {
    tally.warn(code ?? 'server-feature-missing', message);
    deps.logger.warn(message);
  }, schemaServer(profile));
  // A server that shows its backend only on an existing collection: ask again now there is one.
  if (profile.backend === 'unknown') profile = await detectServerProfile(deps.db, probeCollections);
  deps.logger.info({ server: describeServer(profile) }, 'server detected');
  const updates = updateCommands(profile.writes);

  const partition = options.partition ?? WHOLE_SOURCE;
  const label = partitionLabel(partition);
  // The ledger collection always holds the lease (every writing run takes it, --no-ledger too),
  // the session and the orphan markers; `useLedger` only decides whether finished files are
  // remembered and skipped.
  const ledger = new LedgerStore(deps.db, options.collections.ledger, updates);
  const useLedger = options.useLedger !== false;
  const session = newSession(options, deps, label, startedAt);
  const lease = new LeaseKeeper(ledger, { partition: label, sessionId: session.sessionId, host: session.host, pid: session.pid }, leaseTtlMs, now, deps.logger);
  await lease.acquire();
  let complete = true;
  // Boxed, so that whatever was thrown (even a falsy value) is told apart from no failure.
  let failure: { error: unknown } | undefined;
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
      ? new LedgerMarks(
          ledger,
          label,
          optionsKey,
          session.sessionId,
          now,
          (error) => deps.logger.warn({ error: (error as Error).message }, 'could not record finished files in the ledger; they will be read again next time'),
          { beforeWrite: () => lease.assertHeld(), onError: (error) => compactionFailed(deps.logger, error) },
        )
      : undefined;
    const sink = new DatabaseSink(deps.db, options, tally, deps.logger, { profile, updates }, () => lease.assertHeld(), marks);
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
      // Exactly the logs resumeLog looks at further (they are read in the main thread).
      mayResume: (file, attributedRunId) => {
        const entry = logResumeCandidate(file, entryOf(file), optionsKey);
        return entry !== undefined && sameAttribution(entry, attributedRunId);
      },
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
      else failure = { error };
    }
    try {
      await sink.drain();
    } catch (error) {
      failure ??= { error };
    }
    progress?.stop();
    if (complete && !failure && runIds) {
      await rehomeOrphans(deps.db, options, inventory, runIds, orphanMarkers.values(), mine, ledger, tally, () => lease.assertHeld(), deps.signal);
    }
    // The journals this run wrote are folded into the partition's digest, so the ledger stays a
    // few documents (and the next run's queries cheap); also after a stop (the journals are as
    // final as they get). Nothing is written when nothing changed (an unchanged re-run).
    if (useLedger && !failure) {
      try {
        const compaction = await ledger.compactFiles(label, () => lease.assertHeld());
        deps.logger.debug({ compaction }, 'ledger file entries');
      } catch (error) {
        compactionFailed(deps.logger, error);
      }
    }
    if (failure) throw failure.error;

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
    );
    deps.logger.info({ totals: report.totals, complete }, 'import finished');
    return report;
  } catch (error) {
    failure ??= { error };
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

/** A compaction that failed loses nothing: the journals it would have folded stay and are read as they are. */
function compactionFailed(logger: Logger, error: unknown): void {
  logger.warn({ error: (error as Error).message }, "could not fold the ledger's journals into its digest; the next run reads them as they are");
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



