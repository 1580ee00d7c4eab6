import type { Document } from 'mongodb';
import { summarizeSchemaCheck, worstSeverity, type SchemaCheck, type SchemaItem, type SchemaSeverity } from '../report/schema-check.js';
import type { ServerCapabilities } from '../server/server-profile.js';
import { formatKey, type IndexPlan, type SchemaPlan } from './schema-spec.js';

/**
 * What a database holds, as the server answered: the `listCollections` entries of the planned
 * collections (name, type, options with `validator`) and, per existing collection, its
 * `listIndexes` answer. Raw documents, so tests can replay recorded answers.
 */
export interface ObservedSchema {
  collections: readonly Document[];
  /** Collection name -> its indexes as `listIndexes` returned them. */
  indexes: ReadonlyMap<string, readonly Document[]>;
}

/** What the server can hold, from its profile (src/server/server-profile.ts). */
export type SchemaServer = Pick<ServerCapabilities, 'validators' | 'ttlIndexes' | 'sparseIndexes'> & { description: string };

/** One finding about an existing index, compared with the spec's. */
interface Finding {
  severity: SchemaSeverity;
  blocksImport?: boolean;
  failsVerify?: boolean;
  /** Marks the index as differing (a note of severity `ok`, e.g. a server ignoring sparse, does not). */
  differs: boolean;
  unsupported?: boolean;
  note: string;
  hint?: string;
}

/**
 * Compares a database with the spec. Pure: the answers come in, the check goes out.
 *
 * What "differs where it matters" means here (stops import before any write):
 * - a spec'd unique key held by an index that is not unique (the service's idempotence rests on it);
 * - a TTL other than the one asked for (`--logs-retention-days`, none by default): the server would
 *   delete backfilled history, or keep what the operator asked to expire;
 * - a planned collection that is a view, a time-series or a capped collection (cannot hold the data as the spec means).
 * Worth a warning, never a stop: a unique index where the spec has a plain one, sparse, partial,
 * collation or hidden options, an extra unique index, a validator that is not ours. The name never
 * matters: an index with the spec's key counts as present whatever it is called.
 */
export function compareSchema(database: string, plan: SchemaPlan, observed: ObservedSchema, server: SchemaServer): SchemaCheck {
  const items: SchemaItem[] = [];
  const warnings: string[] = [];
  const byName = new Map(observed.collections.map((entry) => [String(entry.name), entry]));
  const usable = (name: string): boolean => {
    const entry = byName.get(name);
    return entry !== undefined && collectionProblem(entry) === undefined;
  };

  for (const planned of plan.collections) {
    const entry = byName.get(planned.name);
    if (!entry) {
      items.push({
        kind: 'collection',
        collection: planned.name,
        role: planned.role,
        expected: server.validators ? 'collection with our validator' : 'collection',
        found: 'absent',
        status: 'missing',
        severity: 'fail',
        blocksImport: false,
        failsVerify: false,
      });
      continue;
    }
    const problem = collectionProblem(entry);
    items.push({
      kind: 'collection',
      collection: planned.name,
      role: planned.role,
      expected: 'collection',
      found: describeCollection(entry),
      status: problem ? 'differs' : 'present',
      severity: problem ? 'fail' : 'ok',
      blocksImport: problem !== undefined,
      failsVerify: false,
      ...(problem ? { note: problem, hint: `Point the importer at the service's real collection (--config, or TaskRunner__Storage__Mongo__${collectionSetting(planned.role)}), or have the migration create ${planned.name} as a regular collection.` } : {}),
    });
    if (!problem && server.validators) items.push(validatorItem(planned.name, planned.role, entry, planned.validator));
  }
  if (!server.validators) {
    warnings.push('the server does not support $jsonSchema validators: validators were not compared; collections hold none');
  }

  const matched = new Map<string, Set<string>>();
  for (const index of plan.indexes) {
    const collection = plan.collections.find((c) => c.role === index.role)?.name ?? index.role;
    const unique = index.options.unique === true;
    const base = { kind: 'index' as const, collection, role: index.role, key: formatKey(index.key), expected: describePlannedIndex(index) };
    if (!usable(collection)) {
      const note = missingIndexNote(index);
      items.push({ ...base, name: index.options.name, found: byName.has(collection) ? 'not a regular collection' : 'absent (no collection)', status: 'missing', severity: 'fail', blocksImport: false, failsVerify: unique, ...(note ? { note } : {}) });
      continue;
    }
    const existing = observed.indexes.get(collection) ?? [];
    const candidates = existing.filter((doc) => sameKey(doc.key as Document | undefined, index.key));
    if (candidates.length === 0) {
      const taken = existing.find((doc) => doc.name === index.options.name);
      items.push({
        ...base,
        name: index.options.name,
        found: 'absent',
        status: 'missing',
        severity: 'fail',
        blocksImport: false,
        failsVerify: unique,
        ...noteOf([missingIndexNote(index), taken ? `its usual name ${index.options.name} is taken by the index on ${formatKey((taken.key ?? {}) as Document)}, so it will be created under another name` : undefined]),
      });
      continue;
    }
    const judged = candidates.map((doc) => ({ doc, findings: judgeIndex(collection, index, doc, server) }));
    judged.sort((a, b) => rank(worstOf(a.findings)) - rank(worstOf(b.findings)));
    const best = judged[0] as (typeof judged)[number];
    const name = String(best.doc.name);
    const taken = matched.get(collection) ?? new Set<string>();
    taken.add(name);
    matched.set(collection, taken);
    const findings = best.findings;
    const differs = findings.some((finding) => finding.differs);
    const severity = worstOf(findings);
    const hints = findings.map((finding) => finding.hint).filter((hint): hint is string => hint !== undefined);
    items.push({
      ...base,
      name,
      found: describeFoundIndex(best.doc),
      status: findings.some((finding) => finding.unsupported) && !findings.some((f) => f.differs && !f.unsupported) ? 'unsupported' : differs ? 'differs' : 'present',
      severity,
      blocksImport: findings.some((finding) => finding.blocksImport === true),
      failsVerify: findings.some((finding) => finding.failsVerify === true),
      ...(findings.length > 0 ? { note: findings.map((finding) => finding.note).join('; ') } : {}),
      ...(hints.length > 0 ? { hint: hints.join(' ') } : {}),
    });
  }

  // Indexes the spec does not ask for (other than _id): listed; a unique one can refuse records.
  for (const planned of [...plan.collections.map((c) => c.name)]) {
    if (!usable(planned)) continue;
    const role = plan.collections.find((c) => c.name === planned)?.role ?? null;
    for (const doc of observed.indexes.get(planned) ?? []) {
      const name = String(doc.name);
      if (name === '_id_' || matched.get(planned)?.has(name)) continue;
      const unique = isUnique(doc);
      items.push({
        kind: 'index',
        collection: planned,
        role,
        key: formatKey((doc.key ?? {}) as Document),
        name,
        expected: 'not in the spec',
        found: describeFoundIndex(doc),
        status: 'extra',
        severity: unique ? 'warn' : 'ok',
        blocksImport: false,
        failsVerify: false,
        ...(unique ? { note: 'a unique index the spec does not have: records that share its key are refused by the server (reported as server-refused, or as conflicts on servers that do not name the index)' } : {}),
      });
    }
  }

  const ledger = byName.get(plan.ledger);
  const ledgerProblem = ledger ? collectionProblem(ledger) : undefined;
  items.push({
    kind: 'ledger',
    collection: plan.ledger,
    role: 'ledger',
    expected: 'collection',
    found: ledger ? describeCollection(ledger) : 'absent',
    status: !ledger ? 'missing' : ledgerProblem ? 'differs' : 'present',
    severity: ledgerProblem ? 'fail' : 'ok',
    blocksImport: ledgerProblem !== undefined,
    failsVerify: false,
    ...(!ledger ? { note: 'created by `schema` or by the first import (it holds the lease, the sessions and the files done)' } : {}),
    ...(ledgerProblem ? { note: ledgerProblem, hint: 'Name another collection with --ledger-collection.' } : {}),
  });

  return summarizeSchemaCheck(database, { description: server.description, validators: server.validators, ttlIndexes: server.ttlIndexes, sparseIndexes: server.sparseIndexes }, plan.logsTtlSeconds === undefined ? undefined : plan.logsTtlSeconds / 86_400, items, warnings);
}

/** Why an existing collection cannot hold the data as the spec means it, or undefined. */
function collectionProblem(entry: Document): string | undefined {
  const type = entry.type === undefined ? 'collection' : String(entry.type);
  if (type === 'view') return 'it is a view: it cannot be written to';
  if (type === 'timeseries') return 'it is a time-series collection: it cannot hold the spec\'s unique indexes';
  if (type !== 'collection') return `it is a ${type}, not a regular collection`;
  const options = (entry.options ?? {}) as Document;
  if (options.capped === true) return 'it is a capped collection: the server drops the oldest documents when it is full, and an audit trail must not lose records';
  return undefined;
}

function describeCollection(entry: Document): string {
  const options = (entry.options ?? {}) as Document;
  const type = entry.type === undefined ? 'collection' : String(entry.type);
  const parts = [type];
  if (options.capped === true) parts.push('capped');
  if (options.validator !== undefined) parts.push('with a validator');
  return parts.join(', ');
}

function collectionSetting(role: string): string {
  return { runs: 'RunsCollection', logs: 'LogsCollection', approvals: 'ApprovalsCollection', artifacts: 'ArtifactsCollection' }[role] ?? 'RunsCollection';
}

function validatorItem(collection: string, role: SchemaItem['role'], entry: Document, ours: Document): SchemaItem {
  const options = (entry.options ?? {}) as Document;
  const validator = options.validator as Document | undefined;
  const base = { kind: 'validator' as const, collection, role, expected: 'our validator (mirrors the spec\'s field table), if validation is enabled', blocksImport: false, failsVerify: false };
  if (validator === undefined || Object.keys(validator).length === 0) {
    return {
      ...base,
      found: 'none',
      status: 'missing',
      severity: 'ok',
      note: 'no validator: the spec asks for one only where schema validation is enabled, and the importer never adds one to an existing collection (no collMod)',
    };
  }
  const level = options.validationLevel === undefined ? '' : `, validationLevel ${String(options.validationLevel)}`;
  const action = options.validationAction === undefined ? '' : `, validationAction ${String(options.validationAction)}`;
  if (deepEqual(validator, ours)) {
    return { ...base, found: `our validator${level}${action}`, status: 'present', severity: 'ok' };
  }
  const kind = Object.hasOwn(validator, '$jsonSchema') ? '$jsonSchema' : 'query operators';
  return {
    ...base,
    found: `the installation's own (${kind})${level}${action}`,
    status: 'differs',
    severity: 'warn',
    note: 'kept as it is (the importer never modifies a validator): documents it refuses end as server-refused rejections naming its rule',
  };
}

function describePlannedIndex(index: IndexPlan): string {
  const parts = [index.options.unique ? 'unique' : 'plain'];
  if (index.options.sparse) parts.push('sparse');
  if (Object.keys(index.key).length === 1 && index.role === 'logs' && index.key.timestamp !== undefined) {
    parts.push(index.options.expireAfterSeconds === undefined ? 'no TTL' : `TTL ${describeTtl(index.options.expireAfterSeconds)}`);
  }
  return parts.join(', ');
}

export function describeFoundIndex(doc: Document): string {
  const parts = [isUnique(doc) ? 'unique' : 'plain (not unique)'];
  if (doc.sparse === true) parts.push('sparse');
  const ttl = ttlOf(doc);
  if (ttl !== undefined) parts.push(`TTL ${describeTtl(ttl)}`);
  if (doc.partialFilterExpression !== undefined) parts.push(`partial ${JSON.stringify(doc.partialFilterExpression)}`);
  if (hasCollation(doc)) parts.push(`collation ${JSON.stringify(doc.collation)}`);
  if (doc.hidden === true) parts.push('hidden');
  return parts.join(', ');
}

function missingIndexNote(index: IndexPlan): string | undefined {
  return index.options.unique ? 'without it re-runs and the live service could store the same record twice' : undefined;
}

/** Every difference between an existing index with the spec's key and the spec's index. */
function judgeIndex(collection: string, index: IndexPlan, doc: Document, server: SchemaServer): Finding[] {
  const findings: Finding[] = [];
  const name = String(doc.name);
  const key = formatKey(index.key);
  const keyPattern = key;
  if (index.options.unique && !isUnique(doc)) {
    findings.push({
      severity: 'fail',
      blocksImport: true,
      failsVerify: true,
      differs: true,
      note: `the spec's ${key} must be unique: it is what keeps re-runs and the live service from storing the same record twice`,
      hint:
        `Make ${name} unique on the same key, e.g. on MongoDB 6.0+: db.runCommand({ collMod: "${collection}", index: { keyPattern: ${keyPattern}, prepareUnique: true } }), ` +
        `then the same with unique: true (it fails, listing them, if duplicates exist); on older servers have the migration rebuild it as unique. Then run the same command again.`,
    });
  } else if (!index.options.unique && isUnique(doc)) {
    findings.push({
      severity: 'warn',
      differs: true,
      note: `unique where the spec has a plain index: records the spec allows but that share ${key} are refused by the server (reported as server-refused)`,
    });
  }
  const found = ttlOf(doc);
  const wanted = index.options.expireAfterSeconds;
  const single = Object.keys(index.key).length === 1;
  if (single && found !== wanted) {
    const isRetentionIndex = index.role === 'logs' && index.key.timestamp !== undefined;
    if (wanted !== undefined && found === undefined && !server.ttlIndexes) {
      findings.push({ severity: 'warn', differs: false, unsupported: true, note: `this server does not implement TTL indexes: no retention of ${describeTtl(wanted)} is applied` });
    } else if (wanted === undefined && found !== undefined) {
      findings.push({
        severity: 'fail',
        blocksImport: true,
        differs: true,
        note: `a TTL index (${describeTtl(found)}) where ${isRetentionIndex ? 'no retention was asked for (the spec keeps TTL disabled by default)' : 'the spec has none'}: the server would delete imported history older than that`,
        hint: isRetentionIndex
          ? `If that retention is intended, pass --logs-retention-days ${found / 86_400} to accept it; otherwise have the migration's owner remove the TTL from ${name}.`
          : `Have the migration's owner remove the TTL from ${name}.`,
      });
    } else if (wanted !== undefined && found === undefined) {
      findings.push({
        severity: 'fail',
        blocksImport: true,
        differs: true,
        note: `no TTL, while --logs-retention-days asks for ${describeTtl(wanted)}; the importer never changes an existing index`,
        hint: `Run without --logs-retention-days (no retention, the spec's default), or add it to the existing index (MongoDB 5.1+): db.runCommand({ collMod: "${collection}", index: { keyPattern: ${keyPattern}, expireAfterSeconds: ${wanted} } }).`,
      });
    } else if (wanted !== undefined && found !== undefined) {
      findings.push({
        severity: 'fail',
        blocksImport: true,
        differs: true,
        note: `TTL ${describeTtl(found)}, while --logs-retention-days asks for ${describeTtl(wanted)}`,
        hint: `Pass --logs-retention-days ${found / 86_400} to keep the installation's retention, or change it: db.runCommand({ collMod: "${collection}", index: { keyPattern: ${keyPattern}, expireAfterSeconds: ${wanted} } }).`,
      });
    }
  }
  if (index.options.sparse && doc.sparse !== true) {
    findings.push(
      server.sparseIndexes
        ? { severity: 'warn', differs: true, note: 'not sparse: it also indexes runs without tenantId (works; a larger index)' }
        : { severity: 'ok', differs: false, note: 'this server ignores the sparse option' },
    );
  } else if (!index.options.sparse && doc.sparse === true) {
    findings.push({ severity: 'warn', differs: true, note: 'sparse where the spec has none: documents missing the key fields are left out of the index' });
  }
  if (doc.partialFilterExpression !== undefined) {
    findings.push({
      severity: 'warn',
      differs: true,
      note: index.options.unique
        ? `partial (${JSON.stringify(doc.partialFilterExpression)}): uniqueness holds only among documents matching the filter; every document the importer writes must match it`
        : `partial (${JSON.stringify(doc.partialFilterExpression)}): it serves only queries that imply the filter`,
    });
  }
  if (hasCollation(doc)) {
    findings.push({
      severity: 'warn',
      differs: true,
      note: `collation ${JSON.stringify(doc.collation)}: keys are compared under it${index.options.unique ? ', so two runIds or names that differ only in case or accents may collide' : ''}`,
    });
  }
  if (doc.hidden === true) findings.push({ severity: 'warn', differs: true, note: 'hidden from the query planner: it enforces its constraints but serves no query' });
  return findings;
}

function noteOf(parts: ReadonlyArray<string | undefined>): { note?: string } {
  const text = parts.filter((part): part is string => part !== undefined).join('; ');
  return text ? { note: text } : {};
}

function worstOf(findings: readonly Finding[]): SchemaSeverity {
  return worstSeverity(findings.map((finding) => finding.severity));
}

function rank(severity: SchemaSeverity): number {
  return severity === 'ok' ? 0 : severity === 'warn' ? 1 : 2;
}

export function isUnique(doc: Document): boolean {
  return doc.unique === true || doc.unique === 1;
}

/** `expireAfterSeconds` as a number (the server may answer Int32, Double or Int64). */
export function ttlOf(doc: Document): number | undefined {
  const value: unknown = doc.expireAfterSeconds;
  if (value === undefined || value === null) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- Int64 and Double objects print their value
  const seconds = Number(typeof value === 'object' && value !== null && 'toString' in value ? String(value) : value);
  return Number.isFinite(seconds) ? seconds : undefined;
}

function hasCollation(doc: Document): boolean {
  const collation = doc.collation as Document | undefined;
  return collation !== undefined && collation.locale !== 'simple';
}

export function describeTtl(seconds: number): string {
  const days = seconds / 86_400;
  return Number.isInteger(days) ? `${days} d (${seconds} s)` : `${seconds} s (${days.toFixed(3)} d)`;
}

/** Same fields in the same order, same directions (1 and 1.0 and Int64 1 are equal). */
export function sameKey(found: Document | undefined, wanted: Readonly<Record<string, unknown>>): boolean {
  if (!found) return false;
  const a = Object.entries(found);
  const b = Object.entries(wanted);
  if (a.length !== b.length) return false;
  return a.every(([field, direction], i) => {
    const [wantedField, wantedDirection] = b[i] as [string, unknown];
    return field === wantedField && directionValue(direction) === directionValue(wantedDirection);
  });
}

function directionValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(Number(value));
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- Int64 and Double objects print their value
  if (typeof value === 'object' && value !== null) return String(Number(String(value)));
  return String(value);
}

/** Deep equality for validator documents: object key order does not matter, array order does. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' || typeof a === 'bigint') return (typeof b === 'number' || typeof b === 'bigint') && Number(a) === Number(b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(b)) {
    const left = Object.keys(a);
    const right = Object.keys(b);
    if (left.length !== right.length) return false;
    return left.every((key) => Object.hasOwn(b, key) && deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
  }
  return false;
}
