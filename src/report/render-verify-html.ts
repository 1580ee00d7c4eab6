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

/** Inline styles: the page is one file, with no script and nothing fetched. */
const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; word-break: break-all; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .25rem; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { background: #ffebe9; color: #82071e; font-weight: 600; }
td.info { background: #fff8c5; }
tr.total td { font-weight: 600; background: #f6f8fa; }
.verdict { display: inline-block; padding: .35rem .8rem; border-radius: 6px; font-weight: 700; color: #fff; }
.passed { background: #1a7f37; } .failed { background: #cf222e; } .incomplete { background: #9a6700; }
.options th { width: 9rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
ul.items { margin: .25rem 0; padding-left: 1.25rem; }
ul.items li { margin: .15rem 0; }
.kind { display: inline-block; min-width: 6.5rem; font-weight: 600; }
.k-missing, .k-mismatched { color: #cf222e; } .k-extra-in-db, .k-kept-newer { color: #9a6700; } .k-rejected { color: #cf222e; } .k-accepted { color: #8250df; } .k-note { color: #57606a; }
table.diff { font-size: 12.5px; margin: .25rem 0 .5rem; }
.muted { color: #57606a; }
footer { margin-top: 2.5rem; color: #57606a; font-size: 12px; }
`;

/** Counts that fail the verification (red) and counts that are reported only (yellow). */
const FAILING = new Set(['missing', 'mismatched', 'rejected']);
const INFORMATIONAL = new Set(['keptNewer', 'extra', 'accepted']);

/**
 * The verification as one self-contained HTML page (inline CSS, no script), fit to attach to a
 * change ticket and open in any browser. Every piece of data is HTML-escaped. `exitCode` is the
 * comparison's (`verifyExitCode` in cli/exit-codes.ts), shown beside the verdict.
 */
export function renderVerifyHtml(report: VerifyReport, exitCode: number): string {
  const verdict = !report.complete ? 'incomplete' : report.passed ? 'passed' : 'failed';
  const body: string[] = [];
  body.push(`<h1>Verification report: ${esc(report.source)}</h1>`);
  body.push(`<p><span class="verdict ${verdict}">${verdict.toUpperCase()}</span> exit code ${exitCode}</p>`);
  body.push(`<p>${esc(verifyOutcomeLine(report))}</p>`);
  const notIn = notInDatabaseLine(report);
  if (notIn) body.push(`<p>${esc(notIn)}</p>`);
  body.push('<table class="options"><tbody>');
  for (const [label, value] of optionRows(report, describeScope(report.scope, 100))) body.push(`<tr><th>${esc(label)}</th><td>${esc(value)}</td></tr>`);
  body.push('</tbody></table>');

  body.push('<h2>Totals</h2>');
  body.push(`<p>${esc(runsLine(report))}</p>`);
  body.push(`<table><thead>${headRow(['collection'])}</thead><tbody>`);
  for (const row of collectionTableRows(report)) {
    body.push(`<tr${row.collection === 'total' ? ' class="total"' : ''}><td class="mono">${esc(row.collection)}</td>${countTds(countCells(row.counts))}</tr>`);
  }
  body.push('</tbody></table>');

  body.push(`<h2>Runs that are not clean (${report.notCleanRuns})</h2>`);
  if (report.runs.length === 0) {
    body.push('<p>None: every run checked is clean.</p>');
  } else {
    if (report.runsTruncated) body.push(`<p class="muted">The first ${report.runs.length} are listed (failing runs first).</p>`);
    body.push(`<table><thead>${headRow(['run', 'collection'])}</thead><tbody>`);
    for (const row of runTableRows(report)) {
      body.push(`<tr><td class="mono"><a href="#${anchor(row.runId)}">${esc(row.runId)}</a></td><td class="mono">${esc(row.collection)}</td>${countTds(countCells(row.counts))}</tr>`);
    }
    body.push('</tbody></table>');
    body.push('<h2>First differences</h2>');
    for (const run of report.runs) {
      body.push(`<h3 id="${anchor(run.runId)}">${esc(run.runId)}</h3>`);
      body.push('<ul class="items">');
      for (const item of differenceItems(report, run)) {
        const kindClass = `k-${item.kind.replace(/ /g, '-')}`;
        const head = item.kind === 'note' ? '' : `<span class="mono">${esc(item.collection)}</span> <code>${esc(item.key)}</code>: `;
        let li = `<li><span class="kind ${kindClass}">${esc(item.kind)}</span> ${head}${esc(item.text)}`;
        if (item.differences.length > 0) {
          li += '<table class="diff"><thead><tr><th>field</th><th>file</th><th>database</th></tr></thead><tbody>';
          for (const difference of item.differences) {
            li += `<tr><td class="mono">${esc(difference.path)}</td><td class="mono">${esc(difference.file)}</td><td class="mono">${esc(difference.database)}</td></tr>`;
          }
          li += '</tbody></table>';
        }
        body.push(`${li}</li>`);
      }
      body.push('</ul>');
    }
    if (report.detailsTruncated) body.push('<p class="muted">The lists of differences are cut (a few per run); the counts are exact.</p>');
  }

  body.push(`<h2>Extra runs, only in the database (${report.extraRuns.count})</h2>`);
  if (report.extraRuns.count === 0) body.push('<p>None.</p>');
  else {
    body.push('<ul class="items">');
    for (const extra of report.extraRuns.listed) body.push(`<li><code>${esc(extra.runId)}</code>: ${esc(extraRunDocuments(extra.documents, report.options.collections))}</li>`);
    if (report.extraRuns.truncated) body.push('<li>...</li>');
    body.push('</ul>');
  }
  if (report.unknownRunIds.length > 0) body.push(`<p>Not found in the source nor in the database: ${report.unknownRunIds.map((id) => `<code>${esc(id)}</code>`).join(', ')}</p>`);
  if (report.orphanRunIds.length > 0) body.push(`<p>Orphans (files with no state file): ${report.orphanRunIds.map((id) => `<code>${esc(id)}</code>`).join(', ')}</p>`);
  if (report.warnings.length > 0) {
    body.push('<h2>Warnings while reading the source</h2><ul class="items">');
    for (const warning of report.warnings) body.push(`<li><code>${esc(warning.code)}</code> ${esc(warning.message)}${warning.count > 1 ? ` (x${warning.count})` : ''}</li>`);
    body.push('</ul>');
  }
  const schema = schemaSection(report.schemaCheck, report.schemaCheckError);
  if (schema) {
    body.push('<h2>Schema</h2>');
    body.push(`<p>${esc(schema.verdict)}</p>`);
    if (schema.notable.length > 0) {
      body.push(`<table><thead><tr>${['collection', 'object', 'expected', 'found', 'status', 'note'].map((cell) => `<th>${esc(cell)}</th>`).join('')}</tr></thead><tbody>`);
      for (const row of schema.notable) {
        const flag = row.severity === 'fail' ? ' class="bad"' : row.severity === 'warn' ? ' class="info"' : '';
        body.push(`<tr><td class="mono">${esc(row.collection)}</td><td class="mono">${esc(row.object)}</td><td>${esc(row.expected)}</td><td>${esc(row.found)}</td><td${flag}>${esc(row.status)}</td><td>${esc(row.note)}</td></tr>`);
      }
      body.push('</tbody></table>');
    }
    if (schema.warnings.length > 0) body.push(`<ul class="items">${schema.warnings.map((warning) => `<li>${esc(warning)}</li>`).join('')}</ul>`);
  }
  body.push(`<footer>Generated by ${esc(report.tool.name)} ${esc(report.tool.version)} at ${esc(report.finishedAt)}.</footer>`);

  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Verification report: ${esc(report.database.name)} (${verdict})</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function headRow(first: string[]): string {
  return `<tr>${[...first, ...VERIFY_COUNT_NAMES.map((name) => VERIFY_COUNT_LABELS[name])].map((cell) => `<th>${esc(cell)}</th>`).join('')}</tr>`;
}

function countTds(cells: string[]): string {
  return cells
    .map((cell, index) => {
      const name = VERIFY_COUNT_NAMES[index] as string;
      const flag = cell !== '0' && FAILING.has(name) ? ' bad' : cell !== '0' && INFORMATIONAL.has(name) ? ' info' : '';
      return `<td class="n${flag}">${esc(cell)}</td>`;
    })
    .join('');
}

/** A stable, safe fragment id for a runId. */
function anchor(runId: string): string {
  return `run-${Buffer.from(runId, 'utf8').toString('hex')}`;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(text: string): string {
  // Control and bidi characters become visible escapes first (a right-to-left override would reorder the page).
  return printable(text).replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] as string);
}
