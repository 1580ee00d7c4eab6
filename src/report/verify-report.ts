import { schemaVerifyFailure, type SchemaCheck } from './schema-check.js';
import type { CollectionRole } from '../domain/collection-roles.js';
import type { Rejection, WarningEntry } from '../domain/outcomes.js';

/**
 * The result of `verify`: one object, the `--json` output as it is plus `exitCode` and `reportFile`
 * (added by the CLI: `verifyExitCode` in cli/exit-codes.ts), and what the text, Markdown and HTML
 * renderers draw from. Counts are exact; detail lists are the first few of each kind.
 */

/** The counts of one collection, for one run or in total. */
export interface VerifyCounts {
  /** Records the source holds (what an import writes). */
  expected: number;
  /** Of those, how many have a database document with the same key (equal, different or newer). */
  found: number;
  /** Expected records with no document of that key in the database. */
  missing: number;
  /** Found, but the content differs and the database copy is not newer than the file. */
  mismatched: number;
  /** Found, different, and the database copy is newer than the file (kept by import; not a failure). */
  keptNewer: number;
  /** Documents in the database that the source does not hold (e.g. written by the live service). */
  extra: number;
  /** Source records rejected by the reader (the same rejections `import` reports), not accepted. */
  rejected: number;
  /** Source records rejected, which the operator reviewed and accepted as not imported (`--accept-rejections`). */
  accepted: number;
}

export type VerifyCountName = keyof VerifyCounts;
export const VERIFY_COUNT_NAMES: readonly VerifyCountName[] = [
  'expected',
  'found',
  'missing',
  'mismatched',
  'keptNewer',
  'extra',
  'rejected',
  'accepted',
];

export function emptyVerifyCounts(): VerifyCounts {
  return { expected: 0, found: 0, missing: 0, mismatched: 0, keptNewer: 0, extra: 0, rejected: 0, accepted: 0 };
}

/** One field that differs, rendered for people: dates in ISO form at millisecond precision. */
export interface FieldDifference {
  /** `notes`, `steps[2].status`, `metadata.attempt`. */
  path: string;
  /** What the source says (`missing` when absent). */
  file: string;
  /** What the database holds (`missing` when absent). */
  database: string;
}

/** A key within a run: the runId for runs, `sequence` for logs, `name` for artifacts, `approvalId` for approvals. */
export interface KeyDetail {
  collection: CollectionRole;
  key: string;
}

export interface MismatchDetail extends KeyDetail {
  file: string;
  line?: number;
  /** Every top-level field that differs (`_id` is never compared). */
  fields: string[];
  /** The first few differences, descending into objects and arrays. */
  differences: FieldDifference[];
}

export interface KeptNewerDetail extends KeyDetail {
  file: string;
  /** The version fields of each side (`updatedAt`; `capturedAt`; `completedAt`, `requestedAt`). */
  fileVersion: string;
  databaseVersion: string;
}

/** One run that is not clean, with its counts and its first differences. */
export interface RunVerification {
  runId: string;
  collections: Record<CollectionRole, VerifyCounts>;
  missing: KeyDetail[];
  mismatches: MismatchDetail[];
  keptNewer: KeptNewerDetail[];
  extras: KeyDetail[];
  rejections: Rejection[];
  /** Anything else worth knowing about this row (orphan, ambiguous file name, counted extras). */
  notes: string[];
}

/** Runs the database holds that the source does not hold at all. */
export interface ExtraRuns {
  count: number;
  /** The first few, sorted, with their document count per collection. */
  listed: Array<{ runId: string; documents: Record<CollectionRole, number> }>;
  truncated: boolean;
}

/** Which runs were compared. */
export type VerifyScope =
  | { kind: 'all' }
  | { kind: 'runs'; runIds: string[] }
  | { kind: 'sample'; size: number; runIds: string[] };

export interface VerifyReport {
  command: 'verify';
  tool: { name: string; version: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  source: string;
  /** Database name and server, credentials removed. */
  database: { name: string; server: string };
  /** The options that shaped the comparison, for the change ticket. */
  options: {
    strict: boolean;
    enumStyle: string;
    globs: Record<CollectionRole, string>;
    collections: Record<CollectionRole, string>;
  };
  scope: VerifyScope;
  /** False when stopped before the end (signal); the counts then cover only what was read. */
  complete: boolean;
  files: Record<CollectionRole, number> & { ignored: number };
  collections: Record<CollectionRole, { name: string } & VerifyCounts>;
  totals: VerifyCounts;
  /** Runs compared (seen in the source and in scope), and how many of them are clean. */
  runsChecked: number;
  cleanRuns: number;
  /** Runs (of the source, in scope) with anything missing, mismatched, newer, extra or rejected. */
  notCleanRuns: number;
  /**
   * The runs that are not clean, cut at a limit (`runsTruncated`): failing runs (missing or
   * mismatched) first, then extra or kept-newer, then rejections only; by runId within each.
   */
  runs: RunVerification[];
  runsTruncated: boolean;
  extraRuns: ExtraRuns;
  /** Runs named with --run that neither the source nor the database holds (a typo?). */
  unknownRunIds: string[];
  orphanRunIds: string[];
  warnings: WarningEntry[];
  /** The database compared with the collection spec; a unique index the spec asks for that is missing (or not unique) fails the verification. */
  schemaCheck?: SchemaCheck;
  /** Why the schema could not be read (e.g. not authorized to list collections); the verification goes on without it. */
  schemaCheckError?: string;
  /** True when the lists of first differences were cut (the counts are still exact). */
  detailsTruncated: boolean;
  /**
   * Source records that are not in the database, and why: missing (not found), rejected (not
   * accepted) per reason code, accepted per reason code.
   */
  notInDatabase: { total: number; missing: number; rejectedByReason: Record<string, number>; acceptedByReason: Record<string, number> };
  /** Entries of the --accept-rejections file that matched no rejection (fixed since, changed, or out of scope). */
  unusedAcceptances: number;
  /** Nothing missing, nothing mismatched, no rejection that was not accepted, the spec's unique indexes in place (and, with --strict, no extras). */
  passed: boolean;
}

/** Human names of the counts, shared by the renderers. */
export const VERIFY_COUNT_LABELS: Readonly<Record<VerifyCountName, string>> = Object.freeze({
  expected: 'expected',
  found: 'found',
  missing: 'missing',
  mismatched: 'mismatched',
  keptNewer: 'kept newer',
  extra: 'extra in db',
  rejected: 'rejected',
  accepted: 'accepted',
});

/** Whether a row of counts has anything to report. */
export function isCleanCounts(counts: VerifyCounts): boolean {
  return counts.missing === 0 && counts.mismatched === 0 && counts.keptNewer === 0 && counts.extra === 0 && counts.rejected === 0 && counts.accepted === 0;
}

/** The headline, shared by every renderer. */
export function verifyOutcomeLine(report: VerifyReport): string {
  const { totals } = report;
  if (!report.complete) return 'Stopped before the end: the counts cover only what was read. Run the same command again.';
  const failing = `${totals.missing} missing, ${totals.mismatched} mismatched, ${totals.rejected} rejected and not accepted`;
  const informational =
    `${totals.accepted} rejected and accepted as not imported, ` +
    `${totals.extra} extra in the database (${report.extraRuns.count} extra runs), ${totals.keptNewer} kept newer`;
  if (report.passed) {
    const every = totals.accepted > 0 ? 'every source record is in the database or accepted as not imported' : 'every source record is in the database';
    return `PASSED: ${every} (${failing}; ${informational}${report.options.strict ? '' : '; extras fail only with --strict'}).`;
  }
  const schema = report.schemaCheck ? schemaVerifyFailure(report.schemaCheck) : undefined;
  return `FAILED: ${schema ? `${schema}; ` : ''}${failing}; ${informational}${report.options.strict ? ' (--strict: extras fail too)' : ''}.`;
}

/** "N source records are not in the database: ..." with the reasons, or undefined when none. */
export function notInDatabaseLine(report: VerifyReport): string | undefined {
  const { notInDatabase } = report;
  if (notInDatabase.total === 0) return undefined;
  const reasons = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([reason, count]) => `${count} ${reason}`)
      .join(', ');
  const parts: string[] = [];
  if (notInDatabase.missing > 0) parts.push(`${notInDatabase.missing} missing (no document with their key)`);
  const rejected = reasons(notInDatabase.rejectedByReason);
  if (rejected) parts.push(`rejected and not accepted: ${rejected}`);
  const accepted = reasons(notInDatabase.acceptedByReason);
  if (accepted) parts.push(`rejected and accepted as not imported: ${accepted}`);
  return `${notInDatabase.total} source record(s) are not in the database: ${parts.join('; ')}.`;
}

/** A one-line description of the scope, shared by every renderer (at most `shown` ids listed). */
export function describeScope(scope: VerifyScope, shown = 20): string {
  if (scope.kind === 'all') return 'all runs';
  const ids = scope.runIds.slice(0, shown).join(', ') + (scope.runIds.length > shown ? `, ... (${scope.runIds.length - shown} more)` : '');
  if (scope.kind === 'runs') return `${scope.runIds.length} selected run(s): ${ids}`;
  return `a random sample of ${scope.runIds.length} run(s) (asked for ${scope.size}): ${ids}`;
}
