import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import {
  VERIFY_COUNT_NAMES,
  isCleanCounts,
  type FieldDifference,
  type RunVerification,
  type VerifyCounts,
  type VerifyReport,
} from './verify-report.js';

/**
 * The report's content as plain rows and items, so the text, Markdown and HTML renderers show the
 * same things in the same order and differ only in markup.
 */

export type DifferenceKind = 'missing' | 'mismatched' | 'kept newer' | 'extra in db' | 'rejected' | 'accepted' | 'note';

/** One line of "first differences" under a run. */
export interface DifferenceItem {
  kind: DifferenceKind;
  /** The collection's database name (empty for notes). */
  collection: string;
  /** The key within the run (sequence, artifact name, approvalId, runId), or the file for rejections. */
  key: string;
  /** What to say about it, without the key. */
  text: string;
  differences: FieldDifference[];
}

/** One row of the per-run table: a collection of a run that is not clean. */
export interface RunTableRow {
  runId: string;
  collection: string;
  counts: VerifyCounts;
}

export function collectionTableRows(report: VerifyReport): Array<{ collection: string; counts: VerifyCounts }> {
  return [
    ...COLLECTION_ROLES.map((role) => ({ collection: report.collections[role].name, counts: report.collections[role] })),
    { collection: 'total', counts: report.totals },
  ];
}

export function runTableRows(report: VerifyReport, runs: readonly RunVerification[] = report.runs): RunTableRow[] {
  return runs.flatMap((run) =>
    COLLECTION_ROLES.filter((role) => !isCleanCounts(run.collections[role])).map((role) => ({
      runId: run.runId,
      collection: report.options.collections[role],
      counts: run.collections[role],
    })),
  );
}

export function countCells(counts: VerifyCounts): string[] {
  return VERIFY_COUNT_NAMES.map((name) => String(counts[name]));
}

export function differenceItems(report: VerifyReport, run: RunVerification): DifferenceItem[] {
  const name = (role: CollectionRole): string => report.options.collections[role];
  const items: DifferenceItem[] = [];
  for (const missing of run.missing) {
    items.push({ kind: 'missing', collection: name(missing.collection), key: missing.key, text: 'in the source, not in the database', differences: [] });
  }
  for (const mismatch of run.mismatches) {
    const where = mismatch.line === undefined ? mismatch.file : `${mismatch.file}:${mismatch.line}`;
    items.push({
      kind: 'mismatched',
      collection: name(mismatch.collection),
      key: mismatch.key,
      text: `differs in ${mismatch.fields.join(', ')} (source ${where})`,
      differences: mismatch.differences,
    });
  }
  for (const newer of run.keptNewer) {
    items.push({
      kind: 'kept newer',
      collection: name(newer.collection),
      key: newer.key,
      text: `the database copy is newer (file ${newer.fileVersion}; database ${newer.databaseVersion})`,
      differences: [],
    });
  }
  for (const extra of run.extras) {
    items.push({ kind: 'extra in db', collection: name(extra.collection), key: extra.key, text: 'only in the database', differences: [] });
  }
  for (const rejection of run.rejections) {
    const where = rejection.line === undefined ? rejection.file : `${rejection.file}:${rejection.line}`;
    items.push({
      kind: rejection.accepted ? 'accepted' : 'rejected',
      collection: name(rejection.collection),
      key: where,
      text: oneLine(`[${rejection.reason}] ${rejection.message}. ${rejection.hint}`),
      differences: [],
    });
  }
  for (const note of run.notes) items.push({ kind: 'note', collection: '', key: '', text: note, differences: [] });
  return items;
}

/** Line breaks inside data (an excerpt of a bad file) shown as `\n`, so one item stays one line. */
function oneLine(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\\n');
}

export function extraRunDocuments(documents: Record<CollectionRole, number>, names: Record<CollectionRole, string>): string {
  return COLLECTION_ROLES.filter((role) => documents[role] > 0)
    .map((role) => `${names[role]} ${documents[role]}`)
    .join(', ');
}

/** The options a change ticket wants to see, as label/value pairs. */
export function optionRows(report: VerifyReport, describeScopeText: string): Array<[string, string]> {
  return [
    ['Tool', `${report.tool.name} ${report.tool.version}`],
    ['Started', report.startedAt],
    ['Finished', `${report.finishedAt} (${(report.durationMs / 1000).toFixed(1)} s)`],
    ['Source', report.source],
    ['Database', `${report.database.name} on ${report.database.server}`],
    ['Scope', describeScopeText],
    ['Strict', report.options.strict ? 'yes: extra documents and source rejections fail the verification' : 'no: extra documents and source rejections are reported only'],
    ['Enum style', report.options.enumStyle],
    ['Globs', COLLECTION_ROLES.map((role) => `${role}: ${report.options.globs[role]}`).join('; ')],
    ['Collections', COLLECTION_ROLES.map((role) => report.options.collections[role]).join(', ')],
    [
      'Source files',
      `${report.files.runs} run state, ${report.files.logs} log, ${report.files.approvals} approvals, ` +
        `${report.files.artifacts} artifact manifests; ${report.files.ignored} ignored`,
    ],
    ['Complete', report.complete ? 'yes' : 'no (stopped before the end)'],
  ];
}

export function runsLine(report: VerifyReport): string {
  return (
    `${report.runsChecked} runs checked: ${report.cleanRuns} clean, ${report.notCleanRuns} not clean; ` +
    `${report.extraRuns.count} extra runs only in the database`
  );
}
