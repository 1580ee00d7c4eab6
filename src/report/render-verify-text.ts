import Table from 'cli-table3';
import {
  collectionTableRows,
  countCells,
  differenceItems,
  extraRunDocuments,
  runTableRows,
  runsLine,
} from './verify-details.js';
import { VERIFY_COUNT_LABELS, VERIFY_COUNT_NAMES, describeScope, verifyOutcomeLine, type VerifyReport } from './verify-report.js';

/** Runs shown in the stdout table and with their first differences (the report files show more). */
const SHOWN_RUNS = 50;
const SHOWN_RUN_DETAILS = 20;

/** The readable summary of a verification, for stdout: totals first, then the runs that are not clean. */
export function renderVerifyText(report: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`Verify of ${report.source} against ${report.database.name} on ${report.database.server}`);
  lines.push(`Scope: ${describeScope(report.scope)}; strict: ${report.options.strict ? 'on' : 'off'}; enum style: ${report.options.enumStyle}`);
  lines.push(
    `Files: ${report.files.runs} run state, ${report.files.logs} log, ${report.files.approvals} approvals, ` +
      `${report.files.artifacts} artifact manifests; ${report.files.ignored} ignored`,
  );
  lines.push(`Totals: ${runsLine(report)}`);
  const totals = newTable(['collection', ...VERIFY_COUNT_NAMES.map((name) => VERIFY_COUNT_LABELS[name])]);
  for (const row of collectionTableRows(report)) totals.push([row.collection, ...countCells(row.counts)]);
  lines.push(totals.toString());

  if (report.notCleanRuns > 0) {
    const shown = report.runs.slice(0, SHOWN_RUNS);
    lines.push(`Runs that are not clean (${report.notCleanRuns}${report.notCleanRuns > shown.length ? `, first ${shown.length} shown` : ''}):`);
    const table = newTable(['run', 'collection', ...VERIFY_COUNT_NAMES.map((name) => VERIFY_COUNT_LABELS[name])]);
    let previous: string | undefined;
    for (const row of runTableRows(report, shown)) {
      table.push([row.runId === previous ? '' : row.runId, row.collection, ...countCells(row.counts)]);
      previous = row.runId;
    }
    lines.push(table.toString());
    lines.push('First differences:');
    for (const run of report.runs.slice(0, SHOWN_RUN_DETAILS)) {
      lines.push(`  ${run.runId}`);
      for (const item of differenceItems(report, run)) {
        lines.push(item.kind === 'note' ? `    note: ${item.text}` : `    ${item.kind}: ${item.collection} ${item.key}: ${item.text}`);
        for (const difference of item.differences) {
          lines.push(`      ${difference.path}: file ${difference.file} | database ${difference.database}`);
        }
      }
    }
    if (report.runs.length > SHOWN_RUN_DETAILS || report.detailsTruncated) {
      lines.push('  (lists are cut: use --json or --report FILE for more; the counts above are exact)');
    }
  }
  if (report.extraRuns.count > 0) {
    lines.push(`Extra runs, only in the database (${report.extraRuns.count}):`);
    for (const extra of report.extraRuns.listed.slice(0, SHOWN_RUNS)) {
      lines.push(`  ${extra.runId}: ${extraRunDocuments(extra.documents, report.options.collections)}`);
    }
    if (report.extraRuns.count > Math.min(report.extraRuns.listed.length, SHOWN_RUNS)) lines.push('  ...');
  }
  if (report.unknownRunIds.length > 0) lines.push(`Not found in the source nor in the database: ${report.unknownRunIds.join(', ')}`);
  if (report.orphanRunIds.length > 0) lines.push(`Orphans (files with no state file): ${report.orphanRunIds.join(', ')}`);
  if (report.warnings.length > 0) {
    lines.push('Warnings while reading the source:');
    for (const warning of report.warnings) lines.push(`  [${warning.code}] ${warning.message}${warning.count > 1 ? ` (x${warning.count})` : ''}`);
  }
  lines.push(verifyOutcomeLine(report));
  return `${lines.join('\n')}\n`;
}

/** A table without lines between body rows: long run lists stay readable. */
function newTable(head: string[]): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
}
