import Table from 'cli-table3';
import type { ImportReport } from './import-report.js';
import { printable } from './printable.js';
import { TextLines } from './text-lines.js';
import { COLLECTION_ROLES } from '../domain/collection-roles.js';
import { OUTCOMES } from '../domain/outcomes.js';

const SHOWN_DETAILS = 20;

/**
 * The human summary of an import or plan, for stdout; text from the input is escaped (`TextLines`).
 * `exitCode` is what the command exits with (`importExitCode` in cli/exit-codes.ts): the last line
 * says whether every record is accounted for.
 */
export function renderImportText(report: ImportReport, exitCode: number): string {
  const lines = new TextLines();
  const verb = report.command === 'plan' ? 'Plan (dry run, nothing written)' : 'Import';
  lines.line(`${verb} of ${report.source}${report.database ? ` into ${report.database.name} on ${report.database.server}` : ''}`);
  lines.line(
    `Files: ${report.files.runs} run state, ${report.files.logs} log, ${report.files.approvals} approvals, ` +
      `${report.files.artifacts} artifact manifests; ${report.files.ignored} ignored` +
      (report.files.skippedUnchanged > 0 ? `; ${report.files.skippedUnchanged} skipped (unchanged since the last import)` : ''),
  );
  const table = new Table({
    head: ['collection', ...OUTCOMES.map((outcome) => (report.command === 'plan' && outcome === 'inserted' ? 'to write' : outcome))],
    style: { head: [], border: [] },
  });
  for (const role of COLLECTION_ROLES) {
    const counts = report.collections[role];
    table.push([printable(counts.name), ...OUTCOMES.map((outcome) => String(counts[outcome]))]);
  }
  table.push(['total', ...OUTCOMES.map((outcome) => String(report.totals[outcome]))]);
  lines.block(table.toString());
  if (report.rejections.length > 0) {
    lines.line(`Rejected records (${report.totals.rejected}):`);
    for (const rejection of report.rejections.slice(0, SHOWN_DETAILS)) {
      const where = rejection.line === undefined ? rejection.file : `${rejection.file}:${rejection.line}`;
      lines.line(`  ${where}: [${rejection.reason}] ${rejection.message}. ${rejection.hint}`);
    }
    if (report.totals.rejected > SHOWN_DETAILS) lines.line(`  ... ${report.totals.rejected - SHOWN_DETAILS} more (use --json or --rejects FILE for all)`);
  }
  if (report.totals.accepted > 0) {
    lines.line(`Rejected and accepted as not imported (--accept-rejections) (${report.totals.accepted}):`);
    for (const rejection of report.acceptedRejections.slice(0, SHOWN_DETAILS)) {
      const where = rejection.line === undefined ? rejection.file : `${rejection.file}:${rejection.line}`;
      lines.line(`  ${where}: [${rejection.reason}] ${rejection.message}`);
    }
    if (report.totals.accepted > SHOWN_DETAILS) lines.line(`  ... ${report.totals.accepted - SHOWN_DETAILS} more`);
  }
  if (report.unusedAcceptances > 0) {
    lines.line(`${report.unusedAcceptances} accepted rejection(s) of --accept-rejections matched nothing read this time (fixed since, changed, or not read)`);
  }
  if (report.conflicts.length > 0) {
    lines.line(`Conflicts, left untouched in the database (${report.totals.conflict}):`);
    for (const conflict of report.conflicts.slice(0, SHOWN_DETAILS)) {
      lines.line(`  ${conflict.collection} ${conflict.key} (${conflict.file}${conflict.line === undefined ? '' : `:${conflict.line}`}): differs in ${conflict.fields.join(', ')}`);
    }
  }
  if (report.keptNewer.length > 0) {
    lines.line(`Kept newer database copies (${report.totals.keptNewer}): ${report.keptNewer.slice(0, SHOWN_DETAILS).map((k) => `${k.collection} ${k.key}`).join(', ')}`);
  }
  if (report.orphanRunIds.length > 0) lines.line(`Orphans (files with no state file): ${report.orphanRunIds.join(', ')}`);
  if (report.warnings.length > 0) {
    lines.line('Warnings:');
    for (const warning of report.warnings) lines.line(`  [${warning.code}] ${warning.message}${warning.count > 1 ? ` (x${warning.count})` : ''}`);
  }
  lines.line(outcomeLine(report, exitCode));
  return lines.toString();
}

function outcomeLine(report: ImportReport, exitCode: number): string {
  if (!report.complete) return 'Stopped before the end. Run the same command again to resume; nothing is duplicated.';
  if (exitCode === 0) return 'Done: every record is accounted for.';
  return 'Done, with rejections or conflicts: see above. Fix the source and run the same command again.';
}
