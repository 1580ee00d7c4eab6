import type { CollectionRole } from '../domain/collection-roles.js';

/**
 * The result of comparing a database with the collection spec (`schema --check`, and the schema
 * part of `verify` and `preflight`). One item per collection, validator and index the spec asks
 * for, plus the indexes the database holds beyond them.
 */

/** `ok`: as the spec asks, or a difference that does not matter; `warn`: worth knowing; `fail`: see the flags. */
export type SchemaSeverity = 'ok' | 'warn' | 'fail';

/** `unsupported`: the server cannot hold it (e.g. TTL where the server profile says it has none). */
export type SchemaItemStatus = 'present' | 'missing' | 'differs' | 'extra' | 'unsupported';

export interface SchemaItem {
  kind: 'collection' | 'validator' | 'index' | 'ledger';
  /** The collection's name in this database. */
  collection: string;
  /** Its role (`ledger` for the importer's own collection); null for an index on no planned collection. */
  role: CollectionRole | 'ledger' | null;
  /** Index key as shown to people: `{ runId: 1, sequence: 1 }`. */
  key?: string;
  /** The index's name in the database (found), or the name it gets when created (missing). */
  name?: string;
  /** What the spec asks for (`unique`, `plain, TTL 90 d`, `our validator`). */
  expected: string;
  /** What the database holds (`plain (not unique)`, `absent`). */
  found: string;
  status: SchemaItemStatus;
  severity: SchemaSeverity;
  /** `import` and `schema` stop before any write while this holds (an existing object differs where it matters). */
  blocksImport: boolean;
  /** `verify` fails on this: a unique key the service's idempotence rests on is not enforced. */
  failsVerify: boolean;
  /** What differs and why it matters. */
  note?: string;
  /** What the operator can do. */
  hint?: string;
}

export interface SchemaCheck {
  database: string;
  /** Which server, and what it can hold (from its profile). */
  server: { description: string; validators: boolean; ttlIndexes: boolean; sparseIndexes: boolean };
  /** The retention the check expected on the logs timestamp index (`--logs-retention-days`), or null for none. */
  logsRetentionDays: number | null;
  items: SchemaItem[];
  /** Notes about the check itself (one line when the server has no validators, so none were compared). */
  warnings: string[];
  /** Items by status, and how many warn or fail. */
  counts: Record<SchemaItemStatus, number> & { warnings: number; failures: number };
  /** Nothing missing and nothing differing where it matters: `schema --check` exits 0. */
  passed: boolean;
  /** Some existing object differs where it matters: `import` and `schema` stop before any write. */
  blocksImport: boolean;
  /** Every unique key of the spec is enforced by a unique index: `verify` fails otherwise. */
  uniqueKeysEnforced: boolean;
}

const RANK: Readonly<Record<SchemaSeverity, number>> = { ok: 0, warn: 1, fail: 2 };

export function worstSeverity(severities: Iterable<SchemaSeverity>): SchemaSeverity {
  let worst: SchemaSeverity = 'ok';
  for (const severity of severities) if (RANK[severity] > RANK[worst]) worst = severity;
  return worst;
}

/** Builds the check's totals and verdicts from its items. */
export function summarizeSchemaCheck(
  database: string,
  server: SchemaCheck['server'],
  logsRetentionDays: number | undefined,
  items: SchemaItem[],
  warnings: string[],
): SchemaCheck {
  const counts = { present: 0, missing: 0, differs: 0, extra: 0, unsupported: 0, warnings: warnings.length, failures: 0 };
  for (const item of items) {
    counts[item.status] += 1;
    if (item.severity === 'warn') counts.warnings += 1;
    if (item.severity === 'fail') counts.failures += 1;
  }
  return {
    database,
    server,
    logsRetentionDays: logsRetentionDays ?? null,
    items,
    warnings,
    counts,
    passed: counts.failures === 0,
    blocksImport: items.some((item) => item.blocksImport),
    uniqueKeysEnforced: !items.some((item) => item.failsVerify),
  };
}

/** The items that are not simply as the spec asks (for the short listings of verify and preflight). */
export function notableSchemaItems(check: SchemaCheck): SchemaItem[] {
  return check.items.filter((item) => item.severity !== 'ok' || item.status !== 'present');
}

/** One line per item: `pack_run_logs index ux_logs_run_sequence { runId: 1, sequence: 1 }: plain (not unique); expected unique`. */
export function describeSchemaItem(item: SchemaItem): string {
  const what =
    item.kind === 'index'
      ? `index ${item.name ?? ''} ${item.key ?? ''}`.replace(/\s+/g, ' ').trim()
      : item.kind === 'validator'
        ? 'validator'
        : item.kind === 'ledger'
          ? 'ledger collection'
          : 'collection';
  return `${item.collection} ${what}: ${item.status}; found ${item.found}; expected ${item.expected}${item.note ? `. ${item.note}` : ''}`;
}

/** The check's verdict in one line, shared by the renderers. */
export function schemaVerdictLine(check: SchemaCheck): string {
  const { counts } = check;
  const tally = `${counts.missing} missing, ${counts.differs} differing, ${counts.extra} extra, ${counts.warnings} warning(s)`;
  if (check.blocksImport) return `SCHEMA CONFLICT: an existing collection or index differs from the spec where it matters; import stops before writing (${tally}).`;
  if (!check.passed) return `SCHEMA INCOMPLETE: ${tally}; \`schema\` or the first import creates what is missing.`;
  return `SCHEMA OK: nothing missing or differing in a way that matters (${tally}).`;
}

/** One row of a schema table, as plain text (each renderer escapes it its own way). */
export interface SchemaRow {
  collection: string;
  /** `collection`, `validator`, `index ux_logs_run_sequence { runId: 1, sequence: 1 }`. */
  object: string;
  expected: string;
  found: string;
  /** `present`, `missing [FAIL]`, `differs [WARN]`. */
  status: string;
  severity: SchemaSeverity;
  /** Why it matters and what to do ('' when nothing to say). */
  note: string;
}

export function schemaRows(items: readonly SchemaItem[]): SchemaRow[] {
  return items.map((item) => ({
    collection: item.collection,
    object: item.kind === 'index' ? `index ${item.name ?? ''} ${item.key ?? ''}`.replace(/\s+/g, ' ').trim() : item.kind === 'ledger' ? 'ledger' : item.kind,
    expected: item.expected,
    found: item.found,
    status: `${item.status}${item.severity === 'ok' ? '' : ` [${item.severity.toUpperCase()}]`}`,
    severity: item.severity,
    note: [item.note, item.hint].filter((text): text is string => text !== undefined && text.length > 0).map(sentence).join(' '),
  }));
}

/**
 * Why `verify` fails on the schema, or undefined: the spec's unique keys that no unique index
 * enforces (the service's idempotence rests on them).
 */
export function schemaVerifyFailure(check: SchemaCheck): string | undefined {
  const failing = check.items.filter((item) => item.failsVerify);
  if (failing.length === 0) return undefined;
  const list = failing.map((item) => `${item.collection} ${item.key ?? ''} (${item.status === 'missing' ? 'no such index' : item.found})`.replace(/\s+\(/, ' ('));
  return `the spec's unique key${failing.length > 1 ? 's are' : ' is'} not enforced by a unique index: ${list.join(', ')}`;
}

/** `text` with a capital first letter and a final full stop. */
export function sentence(text: string): string {
  const capitalized = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalized) ? capitalized : `${capitalized}.`;
}

/** The schema part of the verify report: its verdict, the warnings, and the rows worth reading. */
export interface SchemaSection {
  verdict: string;
  warnings: string[];
  /** Rows that are not simply as the spec asks (all rows: `schemaRows(check.items)`). */
  notable: SchemaRow[];
}

/** What every verify renderer shows of the schema (or why it could not be read). */
export function schemaSection(check: SchemaCheck | undefined, error: string | undefined): SchemaSection | undefined {
  if (error !== undefined) return { verdict: `Schema not checked: ${error}`, warnings: [], notable: [] };
  if (!check) return undefined;
  return { verdict: schemaVerdictLine(check), warnings: check.warnings, notable: schemaRows(notableSchemaItems(check)) };
}
