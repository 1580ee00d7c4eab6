import Table from 'cli-table3';
import {
  collectionTableRows,
  countCells,
  differenceItems,
  extraRunDocuments,
  runTableRows,
  runsLine,
} from './verify-details.js';
import { printable } from './printable.js';
import { schemaSection } from './schema-check.js';
import { TextLines } from './text-lines.js';
import { VERIFY_COUNT_LABELS, VERIFY_COUNT_NAMES, describeScope, verifyOutcomeLine, notInDatabaseLine, type VerifyReport } from './verify-report.js';

/** Runs shown in the stdout table and with their first differences (the report files show more). */
const SHOWN_RUNS = 50;
const SHOWN_RUN_DETAILS = 20;

/**
 * The readable summary of a verification, for stdout: totals first, then the runs that are not
 * clean. Text from the input and the database (runIds, keys, values) is escaped (`TextLines`).
 */
export function renderVerifyText(report: VerifyReport): string {
  const lines = new TextLines();
  lines.line(`Verify of ${report.source} against ${report.database.name} on ${report.database.server}`);
  lines.line(`Scope: ${describeScope(report.scope)}; strict: ${report.options.strict ? 'on' : 'off'}; enum style: ${report.options.enumStyle}`);
  lines.line(
    `Files: ${report.files.runs} run state, ${report.files.logs} log, ${report.files.approvals} approvals, ` +
      `${report.files.artifacts} artifact manifests; ${report.files.ignored} ignored`,
  );
  lines.line(`Totals: ${runsLine(report)}`);
  const totals = newTable(['collection', ...VERIFY_COUNT_NAMES.map((name) => VERIFY_COUNT_LABELS[name])]);
  for (const row of collectionTableRows(report)) totals.push([printable(row.collection), ...countCells(row.counts)]);
  lines.block(totals.toString());

  if (report.notCleanRuns > 0) {
    const shown = report.runs.slice(0, SHOWN_RUNS);
    lines.line(`Runs that are not clean (${report.notCleanRuns}${report.notCleanRuns > shown.length ? `, first ${shown.length} shown` : ''}):`);
    const table = newTable(['run', 'collection', ...VERIFY_COUNT_NAMES.map((name) => VERIFY_COUNT_LABELS[name])]);
    let previous: string | undefined;
    for (const row of runTableRows(report, shown)) {
      table.push([row.runId === previous ? '' : printable(row.runId), printable(row.collection), ...countCells(row.counts)]);
      previous = row.runId;
    }
    lines.block(table.toString());
    lines.line('First differences:');
    for (const run of report.runs.slice(0, SHOWN_RUN_DETAILS)) {
      lines.line(`  ${run.runId}`);
      for (const item of differenceItems(report, run)) {
        lines.line(item.kind === 'note' ? `    note: ${item.text}` : `    ${item.kind}: ${item.collection} ${item.key}: ${item.text}`);
        for (const difference of item.differences) {
          lines.line(`      ${difference.path}: file ${difference.file} | database ${difference.database}`);
        }
      }
    }
    if (report.runs.length > SHOWN_RUN_DETAILS || report.detailsTruncated) {
      lines.line('  (lists are cut: use --json or --report FILE for more; the counts above are exact)');
    }
  }
  if (report.extraRuns.count > 0) {
    lines.line(`Extra runs, only in the database (${report.extraRuns.count}):`);
    for (const extra of report.extraRuns.listed.slice(0, SHOWN_RUNS)) {
      lines.line(`  ${extra.runId}: ${extraRunDocuments(extra.documents, report.options.collections)}`);
    }
    if (report.extraRuns.count > Math.min(report.extraRuns.listed.length, SHOWN_RUNS)) lines.line('  ...');
  }
  if (report.unknownRunIds.length > 0) lines.line(`Not found in the source nor in the database: ${report.unknownRunIds.join(', ')}`);
  if (report.orphanRunIds.length > 0) lines.line(`Orphans (files with no state file): ${report.orphanRunIds.join(', ')}`);
  if (report.warnings.length > 0) {
    lines.line('Warnings while reading the source:');
    for (const warning of report.warnings) lines.line(`  [${warning.code}] ${warning.message}${warning.count > 1 ? ` (x${warning.count})` : ''}`);
  }
  const schema = schemaSection(report.schemaCheck, report.schemaCheckError);
  if (schema) {
    lines.line(`Schema: ${schema.verdict}`);
    for (const row of schema.notable) lines.line(`  ${row.collection} ${row.object}: ${row.status}; found ${row.found}; expected ${row.expected}${row.note ? `. ${row.note}` : ''}`);
    for (const warning of schema.warnings) lines.line(`  ${warning}`);
  }
  if (report.unusedAcceptances > 0) {
    lines.line(`${report.unusedAcceptances} accepted rejection(s) of --accept-rejections matched nothing read this time (fixed since, changed, or out of scope)`);
  }
  const notIn = notInDatabaseLine(report);
  if (notIn) lines.line(notIn);
  lines.line(verifyOutcomeLine(report));
  return lines.toString();
}

/** A table without lines between body rows: long run lists stay readable. */
function newTable(head: string[]): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
}
