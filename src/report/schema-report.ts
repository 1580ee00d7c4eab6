import Table from 'cli-table3';
import { printable } from './printable.js';
import { schemaRows, schemaVerdictLine, type SchemaCheck } from './schema-check.js';
import { TextLines } from './text-lines.js';

/**
 * What `schema` prints: what it did (apply) and the comparison of the database with the spec. The
 * `--json` output adds `exitCode` (`schemaExitCode` in cli/exit-codes.ts).
 */
export interface SchemaReport {
  command: 'schema';
  /** `apply`: the spec's steps 1 and 2 (create what is missing, adopt what exists); `check`: compare only. */
  mode: 'apply' | 'check';
  tool: { name: string; version: string };
  startedAt: string;
  finishedAt: string;
  database: { name: string; server: string };
  /** apply: what was created and what was found in place and kept. */
  actions: Array<{ action: string; collection: string; name?: string; key?: string; detail: string }>;
  /** apply: set when it stopped before writing anything (an existing object differs where it matters). */
  stopped: string | null;
  /** The comparison: after applying (apply), or as found (check, or apply when stopped). */
  check: SchemaCheck;
}

/** The readable form: actions, then the table, then the notes it refers to, then the verdict. */
export function renderSchemaText(report: SchemaReport): string {
  const lines = new TextLines();
  const { check } = report;
  const lacks = [
    ...(check.server.validators ? [] : ['no validators']),
    ...(check.server.ttlIndexes ? [] : ['no TTL indexes']),
    ...(check.server.sparseIndexes ? [] : ['sparse ignored']),
  ];
  const server = `${check.server.description}${lacks.length > 0 ? `: ${lacks.join(', ')}` : ''}`;
  lines.line(`Schema of ${report.database.name} on ${report.database.server} (${server})`);
  if (report.mode === 'apply') {
    if (report.stopped) {
      lines.line('Stopped before writing anything:');
      for (const line of report.stopped.split('\n')) lines.line(`  ${line}`);
    } else {
      const created = report.actions.filter((action) => action.action.startsWith('created'));
      lines.line(created.length === 0 ? 'Nothing to create: everything the spec asks for was already there.' : `Created ${created.length}:`);
      for (const action of created) lines.line(`  ${action.collection}${action.name ? ` ${action.name}` : ''}${action.key ? ` ${action.key}` : ''}: ${action.detail}`);
      const adopted = report.actions.filter((action) => action.action === 'kept-index' && action.detail.includes('adopted'));
      for (const action of adopted) lines.line(`  kept ${action.collection} ${action.name ?? ''} ${action.key ?? ''}: ${action.detail}`);
    }
  }
  lines.block(schemaTable(check));
  const notes = schemaRows(check.items).filter((row) => row.note.length > 0);
  if (notes.length > 0) {
    lines.line('Notes:');
    notes.forEach((row, i) => lines.line(`  [${i + 1}] ${row.collection} ${row.object}: ${row.note}`));
  }
  if (check.warnings.length > 0) {
    lines.line('Warnings:');
    for (const warning of check.warnings) lines.line(`  ${warning}`);
  }
  lines.line(schemaVerdictLine(check));
  return lines.toString();
}

/** The comparison as a table; rows with something to say point to their note ([1], [2], ...). */
export function schemaTable(check: SchemaCheck): string {
  const table = new Table({
    head: ['collection', 'object', 'expected', 'found', 'status', 'note'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  let note = 0;
  for (const row of schemaRows(check.items)) {
    table.push([row.collection, row.object, row.expected, row.found, row.status, row.note ? `[${++note}]` : ''].map(printable));
  }
  return table.toString();
}
