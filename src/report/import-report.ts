import type { ImportTally } from '../domain/import-tally.js';
import type { KeptNewer } from '../domain/outcomes.js';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import { OUTCOMES, type Conflict, type OutcomeCounts, type Rejection, type WarningEntry } from '../domain/outcomes.js';

/**
 * The result of `import` and `plan`: one object, the `--json` output as it is plus `exitCode`
 * (decided by the CLI: `importExitCode` in cli/exit-codes.ts).
 */
export interface ImportReport {
  command: 'import' | 'plan';
  tool: { name: string; version: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  source: string;
  /** Database name and the server, credentials removed; absent for `plan`. */
  database?: { name: string; server: string };
  /** Whether the run went through every file (false when stopped by a signal or an outage). */
  complete: boolean;
  files: Record<CollectionRole, number> & { ignored: number; skippedUnchanged: number };
  collections: Record<CollectionRole, { name: string } & OutcomeCounts>;
  totals: OutcomeCounts;
  /** In `plan`, `inserted` counts are what an import would write; nothing else applies. */
  rejections: Rejection[];
  /** Rejections that matched the --accept-rejections file: reported, but they no longer fail the run. */
  acceptedRejections: Rejection[];
  /** Entries of the --accept-rejections file that matched no rejection of this run. */
  unusedAcceptances: number;
  conflicts: Conflict[];
  keptNewer: KeptNewer[];
  /** True when the lists above were cut at the detail limit (the counts are still exact). */
  detailsTruncated: boolean;
  orphanRunIds: string[];
  warnings: WarningEntry[];
}

export interface ReportFrame {
  command: 'import' | 'plan';
  tool: { name: string; version: string };
  startedAt: Date;
  finishedAt: Date;
  source: string;
  database?: { name: string; server: string };
  complete: boolean;
  files: Record<CollectionRole, number> & { ignored: number; skippedUnchanged: number };
  collectionNames: Record<CollectionRole, string>;
}

export function buildImportReport(frame: ReportFrame, tally: ImportTally): ImportReport {
  const collections = Object.fromEntries(
    COLLECTION_ROLES.map((role) => [role, { name: frame.collectionNames[role], ...tally.counts[role] }]),
  ) as ImportReport['collections'];
  const totals = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, tally.total(outcome)])) as OutcomeCounts;
  return {
    command: frame.command,
    tool: frame.tool,
    startedAt: frame.startedAt.toISOString(),
    finishedAt: frame.finishedAt.toISOString(),
    durationMs: frame.finishedAt.getTime() - frame.startedAt.getTime(),
    source: frame.source,
    ...(frame.database ? { database: frame.database } : {}),
    complete: frame.complete,
    files: frame.files,
    collections,
    totals,
    rejections: tally.rejections,
    acceptedRejections: tally.accepted,
    unusedAcceptances: tally.unusedAcceptances(),
    conflicts: tally.conflicts,
    keptNewer: tally.keptNewer,
    detailsTruncated:
      tally.rejections.length < totals.rejected ||
      tally.accepted.length < totals.accepted ||
      tally.conflicts.length < totals.conflict ||
      tally.keptNewer.length < totals.keptNewer,
    orphanRunIds: [...tally.orphanRunIds].sort(),
    warnings: tally.warningList(),
  };
}
