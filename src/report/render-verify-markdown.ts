import { printable } from './printable.js';
import { schemaSection } from './schema-check.js';
import {
  collectionTableRows,
  countCells,
  differenceItems,
  extraRunDocuments,
  optionRows,
  runTableRows,
  runsLine,
} from './verify-details.js';
import { VERIFY_COUNT_LABELS, VERIFY_COUNT_NAMES, describeScope, verifyOutcomeLine, notInDatabaseLine, type VerifyReport } from './verify-report.js';

/**
 * The verification as a self-contained Markdown document (GitHub-flavoured tables), fit to attach
 * to a change ticket. Every piece of data is escaped, so a runId or a value cannot break a table
 * or inject markup. `exitCode` is the comparison's (`verifyExitCode` in cli/exit-codes.ts), shown
 * beside the result.
 */
export function renderVerifyMarkdown(report: VerifyReport, exitCode: number): string {
  const out: string[] = [];
  out.push(`# Verification report: ${md(report.source)}`);
  out.push('');
  out.push(`**Result: ${report.passed && report.complete ? 'PASSED' : report.complete ? 'FAILED' : 'INCOMPLETE'}** (exit code ${exitCode}). ${md(verifyOutcomeLine(report))}`);
  out.push('');
  const notIn = notInDatabaseLine(report);
  if (notIn) out.push(md(notIn), '');
  out.push(table(['', ''], optionRows(report, describeScope(report.scope, 100)).map(([label, value]) => [`**${md(label)}**`, md(value)])));
  out.push('');
  out.push('## Totals');
  out.push('');
  out.push(md(runsLine(report)));
  out.push('');
  out.push(
    table(
      ['collection', ...VERIFY_COUNT_NAMES.map((name) => VERIFY_COUNT_LABELS[name])],
      collectionTableRows(report).map((row) => [row.collection === 'total' ? '**total**' : md(row.collection), ...countCells(row.counts)]),
      true,
    ),
  );
  out.push('');
  out.push(`## Runs that are not clean (${report.notCleanRuns})`);
  out.push('');
  if (report.runs.length === 0) {
    out.push('None: every run checked is clean.');
  } else {
    if (report.runsTruncated) out.push(`The first ${report.runs.length} are listed (failing runs first).\n`);
    out.push(
      table(
        ['run', 'collection', ...VERIFY_COUNT_NAMES.map((name) => VERIFY_COUNT_LABELS[name])],
        runTableRows(report).map((row) => [md(row.runId), md(row.collection), ...countCells(row.counts)]),
        true,
      ),
    );
    out.push('');
    out.push('## First differences');
    for (const run of report.runs) {
      out.push('');
      out.push(`### ${md(run.runId)}`);
      out.push('');
      for (const item of differenceItems(report, run)) {
        out.push(item.kind === 'note' ? `- *note*: ${md(item.text)}` : `- **${item.kind}** ${md(item.collection)} ${md(item.key)}: ${md(item.text)}`);
        for (const difference of item.differences) {
          out.push(`  - ${md(difference.path)}: file ${md(difference.file)}; database ${md(difference.database)}`);
        }
      }
    }
    if (report.detailsTruncated) out.push('\nThe lists of differences are cut (a few per run); the counts are exact.');
  }
  out.push('');
  out.push(`## Extra runs, only in the database (${report.extraRuns.count})`);
  out.push('');
  if (report.extraRuns.count === 0) out.push('None.');
  for (const extra of report.extraRuns.listed) out.push(`- ${md(extra.runId)}: ${md(extraRunDocuments(extra.documents, report.options.collections))}`);
  if (report.extraRuns.truncated) out.push('- ...');
  if (report.unknownRunIds.length > 0) out.push(`\nNot found in the source nor in the database: ${report.unknownRunIds.map(md).join(', ')}`);
  if (report.orphanRunIds.length > 0) out.push(`\nOrphans (files with no state file): ${report.orphanRunIds.map(md).join(', ')}`);
  if (report.warnings.length > 0) {
    out.push('');
    out.push('## Warnings while reading the source');
    out.push('');
    for (const warning of report.warnings) out.push(`- [${md(warning.code)}] ${md(warning.message)}${warning.count > 1 ? ` (x${warning.count})` : ''}`);
  }
  const schema = schemaSection(report.schemaCheck, report.schemaCheckError);
  if (schema) {
    out.push('');
    out.push('## Schema');
    out.push('');
    out.push(md(schema.verdict));
    if (schema.notable.length > 0) {
      out.push('');
      out.push(table(['collection', 'object', 'expected', 'found', 'status', 'note'], schema.notable.map((row) => [row.collection, row.object, row.expected, row.found, row.status, row.note].map(md))));
    }
    for (const warning of schema.warnings) out.push(`\n- ${md(warning)}`);
  }
  out.push('');
  return out.join('\n');
}

function table(head: string[], rows: string[][], numeric = false): string {
  const align = head.map((_, index) => (numeric && index >= head.length - VERIFY_COUNT_NAMES.length ? '---:' : '---'));
  return [`| ${head.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** Escapes text for Markdown (in and out of tables): punctuation that means something, and line breaks. */
export function md(text: string): string {
  // Line breaks become spaces first; any other control or bidi character becomes a visible escape.
  return printable(text.replace(/\r?\n|\r/g, ' '))
    .replace(/[\\`*[\]<>|#&~]/g, (char) => `\\${char}`)
    // An underscore inside a word (pack_run_logs) never starts emphasis: left as it is, for readability.
    .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\_');
}
