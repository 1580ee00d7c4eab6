import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { CollectionNames } from '../config/collection-names.js';
import { ImportTally } from '../domain/import-tally.js';
import { workTotals, type ImportProgress } from '../report/progress.js';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import { emptyVerifyCounts, type VerifyCounts, type VerifyReport, type VerifyScope } from '../report/verify-report.js';
import { findSourceFiles } from '../scan/find-source-files.js';
import type { SourceReadOptions } from '../read/source-options.js';
import { TOOL_NAME, TOOL_VERSION } from '../tool-version.js';
import { findExtraDocuments } from '../verify/find-extra-documents.js';
import { RunSelection } from '../verify/run-selection.js';
import { verifyPassed } from '../verify/verify-verdict.js';
import { VerifySink, verifyReadMode } from '../verify/verify-sink.js';
import { describeServer, detectServerProfile, type ReadStrategy } from '../server/server-profile.js';
import { DEFAULT_VERIFY_DETAIL_LIMIT, DEFAULT_VERIFY_RUN_LIMIT, VerifyTally, compareText } from '../verify/verify-tally.js';
import { readSourceRecords } from '../read/read-source-records.js';
import type { RejectionAcceptance } from '../domain/rejection-acceptance.js';
import { countFiles } from './run-import.js';
import { checkSchemaForReport } from './schema-for-report.js';

/** Everything `verify` needs, resolved once by the CLI (or given by an API caller). */
export interface VerifyOptions extends SourceReadOptions {
  collections: CollectionNames;
  /** Verify only these runs (`--run`, repeatable). */
  runIds?: readonly string[];
  /** Verify a random sample of this many runs (`--sample N`), picked among the state files. */
  sample?: number;
  /** Extra documents and source rejections fail the verification too. Default false. */
  strict?: boolean;
  /** Detail entries listed in all (the counts stay exact). Default 2000. */
  detailLimit?: number;
  /** Runs that are not clean listed in full. Default 1000. */
  runLimit?: number;
  /** Rejections the operator reviewed and accepted as not imported (`--accept-rejections`). */
  acceptance?: RejectionAcceptance;
  /** The retention the logs timestamp index should have (`--logs-retention-days`), for the schema check. */
  logsRetentionDays?: number;
}

export interface VerifyDependencies {
  /** The database to compare with. Verify only reads: it never writes or creates a collection. */
  db: Db;
  /** Server description for the report, credentials already removed. */
  serverLabel: string;
  logger?: Logger;
  now?: () => Date;
  /** The random source of `--sample` (Math.random by default). */
  random?: () => number;
  /** Aborting stops reading; the report says `complete: false` (exit code 4 in the CLI). */
  signal?: AbortSignal;
  /** Progress while the source is read and compared (bars on a TTY, periodic log lines); none by default. */
  progress?: ImportProgress;
  /** How to read the database, instead of the detected server profile's (tests run both ways on one server). */
  reads?: ReadStrategy;
  /** Records and documents one comparing read holds at most (tests: a small value exercises the fallbacks). */
  readBudget?: number;
}

/**
 * The verify use case: read the source through the one read path `import` uses, compare every
 * record with the database by unique key, look for documents only the database holds, and return
 * the report. Differences are outcomes in the report, never exceptions; it throws only when the
 * database cannot be read at all.
 */
export async function runVerify(options: VerifyOptions, deps: VerifyDependencies): Promise<VerifyReport> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const inventory = await findSourceFiles(options.source, options.globs);
  const selection =
    options.sample !== undefined
      ? RunSelection.sample(inventory.files.runs, options.sample, deps.random ?? Math.random)
      : options.runIds !== undefined
        ? RunSelection.runs(options.runIds)
        : RunSelection.all();
  const profile = deps.reads ? undefined : await detectServerProfile(deps.db, [options.collections.logs, options.collections.runs, options.collections.ledger]);
  const reads = deps.reads ?? (profile as { reads: ReadStrategy }).reads;
  const runsInScope =
    selection.kind === 'all' ? undefined : selection.kind === 'runs' ? (selection.namedRunIds() ?? []).length : Math.min(selection.requestedSize, inventory.files.runs.length);
  const mode = verifyReadMode(reads, runsInScope);
  deps.logger?.info(
    { files: countFiles(inventory), scope: selection.kind, reads: mode, ...(profile ? { server: describeServer(profile) } : {}) },
    'source scanned; comparing with the database',
  );

  const tally = new VerifyTally(options.detailLimit ?? DEFAULT_VERIFY_DETAIL_LIMIT);
  const willRead = Object.fromEntries(COLLECTION_ROLES.map((role) => [role, inventory.files[role].filter((file) => !selection.skipFile(file))])) as Record<CollectionRole, typeof inventory.files.runs>;
  const sink = new VerifySink(deps.db, options.collections, tally, selection, {
    holdLimit: options.batchSize,
    reads,
    mode,
    files: willRead,
    checkStop: () => {
      if (deps.signal?.aborted) throw new StopReading();
    },
    ...(deps.readBudget === undefined ? {} : { budget: deps.readBudget }),
  });
  const readTally = new ImportTally(undefined, (rejection) => sink.noteRejection(rejection), options.acceptance);
  // Sized like import's: every file counts, those outside --run/--sample as soon as they are skipped.
  const progress = deps.progress;
  progress?.start(workTotals(inventory));
  let complete = true;
  try {
    await readSourceRecords(
      await sink.startScans(inventory),
      options,
      readTally,
      {
        accept: async (role, batch) => {
          if (deps.signal?.aborted) throw new StopReading();
          await sink.accept(role, batch);
          progress?.records(role, batch.length);
        },
        fileHandedOver: async (file, position) => {
          // Checked here too: a phase's files are compared after its last batch, one query per run.
          if (deps.signal?.aborted) throw new StopReading();
          await sink.fileHandedOver(file, position);
          progress?.fileDone(file.role, file.size);
        },
      },
      {
        skipFile: (file) => {
          const skip = selection.skipFile(file);
          if (skip) progress?.fileDone(file.role, file.size);
          return skip;
        },
      },
    );
    // In scan mode this reads the rest of each collection too: the extras are found on the way.
    await sink.finish();
  } catch (error) {
    await sink.close();
    if (!(error instanceof StopReading)) throw error;
    complete = false;
  } finally {
    // The extras search that follows has no per-file progress: its log line says what it does.
    progress?.stop();
  }
  // In scope: every run (undefined), the runs named with --run, or the sampled runs the source holds.
  const selectedIds =
    selection.kind === 'all'
      ? undefined
      : [...new Set([...(selection.namedRunIds() ?? []), ...[...sink.sourceRunIds].filter((runId) => selection.includes(runId))])].sort(compareText);
  if (complete) {
    deps.logger?.info('source compared; looking for documents only the database holds');
    await findExtraDocuments(deps.db, options.collections, sink, tally, selection, selectedIds, reads);
  }
  tally.attributeRejections(
    (attribution) => {
      const resolution = sink.runIndex.resolve(attribution);
      if (resolution.kind === 'ambiguous') {
        return {
          runId: attribution,
          candidates: resolution.runIds,
          note: `the file name "${attribution}" matches several runs (${resolution.runIds.join(', ')}); its records were not read`,
        };
      }
      return { runId: resolution.runId, candidates: [resolution.runId] };
    },
    (runIds) => selection.includesAny(runIds),
  );

  const perCollection = tally.totals();
  const totals = emptyVerifyCounts();
  for (const role of COLLECTION_ROLES) {
    for (const name of Object.keys(totals) as Array<keyof VerifyCounts>) totals[name] += perCollection[role][name];
  }
  const summary = tally.runSummary(options.runLimit ?? DEFAULT_VERIFY_RUN_LIMIT);
  const strict = options.strict ?? false;
  // The spec's unique indexes are part of what is verified: without them the service loses its idempotence.
  const schema = await checkSchemaForReport(deps.db, options.collections, options.logsRetentionDays, deps.logger);
  const passed = verifyPassed(totals, strict) && (schema.schemaCheck?.uniqueKeysEnforced ?? true);
  const scope: VerifyScope =
    selection.kind === 'all'
      ? { kind: 'all' }
      : selection.kind === 'runs'
        ? { kind: 'runs', runIds: selectedIds ?? [] }
        : { kind: 'sample', size: selection.requestedSize, runIds: selectedIds ?? [] };
  const extraRuns = tally.extraRuns();
  const finishedAt = now();
  const report: VerifyReport = {
    command: 'verify',
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    source: options.source,
    database: { name: deps.db.databaseName, server: deps.serverLabel },
    options: {
      strict,
      enumStyle: options.enumStyle,
      globs: { ...options.globs },
      collections: collectionNames(options.collections),
    },
    scope,
    complete,
    files: { ...countFiles(inventory), ignored: inventory.ignoredFiles },
    collections: Object.fromEntries(
      COLLECTION_ROLES.map((role) => [role, { name: options.collections[role], ...perCollection[role] }]),
    ) as VerifyReport['collections'],
    totals,
    runsChecked: summary.checked,
    cleanRuns: summary.clean,
    notCleanRuns: summary.notCleanCount,
    runs: summary.notClean,
    runsTruncated: summary.truncated,
    extraRuns,
    unknownRunIds:
      selection.kind === 'runs'
        ? (selectedIds ?? []).filter((runId) => !sink.sourceRunIds.has(runId) && !tally.has(runId) && !tally.isExtraRun(runId))
        : [],
    orphanRunIds: [...readTally.orphanRunIds].filter((runId) => selection.includes(runId)).sort(compareText),
    warnings: readTally.warningList(),
    ...schema,
    detailsTruncated: tally.detailsTruncated,
    notInDatabase: notInDatabase(totals, tally.rejectionReasons()),
    unusedAcceptances: readTally.unusedAcceptances(),
    passed,
  };
  deps.logger?.info({ totals, passed, complete }, 'verify finished');
  return report;
}

class StopReading extends Error {}

function notInDatabase(totals: VerifyCounts, reasons: { rejected: Record<string, number>; accepted: Record<string, number> }): VerifyReport['notInDatabase'] {
  return {
    total: totals.missing + totals.rejected + totals.accepted,
    missing: totals.missing,
    rejectedByReason: reasons.rejected,
    acceptedByReason: reasons.accepted,
  };
}

function collectionNames(names: CollectionNames): Record<CollectionRole, string> {
  return Object.fromEntries(COLLECTION_ROLES.map((role) => [role, names[role]])) as Record<CollectionRole, string>;
}
