import { MongoServerError, type Db, type Document } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import { BackfillRuntimeError } from '../errors.js';
import { describeSchemaItem, sentence, type SchemaCheck, type SchemaItem } from '../report/schema-check.js';
import type { WarningCode } from '../domain/outcomes.js';
import { compareSchema, describeFoundIndex, sameKey, type SchemaServer } from './compare-schema.js';
import { listIndexesOf, readSchema } from './read-schema.js';
import { formatKey, schemaPlan, type IndexPlan, type SchemaOptions } from './schema-spec.js';
import { DUPLICATE_KEY, isNotImplemented } from '../server/server-errors.js';

export { plannedIndexes, type SchemaOptions } from './schema-spec.js';

/** One thing `ensureSchema` did or found already in place. */
export interface SchemaAction {
  action: 'created-collection' | 'created-index' | 'kept-collection' | 'kept-index';
  collection: string;
  /** Index name (kept: the name it has; created: the name given). */
  name?: string;
  key?: string;
  detail: string;
}

export interface SchemaApplyResult {
  /** The database as found, compared with the spec, before anything was created. */
  before: SchemaCheck;
  actions: SchemaAction[];
}

/** Receives warnings for the report; `code` defaults to `server-feature-missing`. */
export type SchemaWarn = (message: string, code?: WarningCode) => void;

const INDEX_OPTIONS_CONFLICT = 85;
const INDEX_KEY_SPECS_CONFLICT = 86;
const NAMESPACE_EXISTS = 48;

/**
 * The spec's execution order, steps 1 and 2, adopting what already exists:
 * 1. reads what the database holds (`listCollections`, `listIndexes`) and compares it with the spec;
 *    when an existing collection or index differs where it matters, stops with SCHEMA_CONFLICT
 *    before writing anything (no collection, index, lease or document);
 * 2. creates the missing collections, with our validators where the server supports them
 *    (the server profile says which do not: one warning, then without). Existing collections are never modified
 *    (no collMod) nor recreated, whatever validator they have;
 * 3. creates the missing indexes, unique ones first. An index with the spec's key counts as present
 *    whatever its name (a migration's `ux_logs_run_sequence` is the spec's `{ runId: 1, sequence: 1 }`).
 * Safe to repeat, and safe beside another importer doing the same.
 */
export async function ensureSchema(
  db: Db,
  names: CollectionNames,
  options: SchemaOptions,
  warn: SchemaWarn,
  /** What the server can hold (its profile's capabilities). */
  server: SchemaServer,
): Promise<SchemaApplyResult> {
  const plan = schemaPlan(names, options);
  const before = compareSchema(db.databaseName, plan, await readSchema(db, names), server);
  if (before.blocksImport) throw schemaConflictError(before);
  for (const item of before.items) {
    if (item.severity === 'warn' && item.status !== 'unsupported') warn(describeSchemaItem(item), 'schema-adopted');
  }

  const actions: SchemaAction[] = [];
  let validatorsSupported = server.validators;
  let warnedAboutValidators = false;
  const warnNoValidators = (): void => {
    if (warnedAboutValidators) return;
    warnedAboutValidators = true;
    warn('the server does not implement $jsonSchema validators; collections are created without them');
  };
  for (const planned of plan.collections) {
    const item = before.items.find((candidate) => candidate.kind === 'collection' && candidate.collection === planned.name);
    if (item?.status !== 'missing') {
      actions.push({ action: 'kept-collection', collection: planned.name, detail: `exists (${item?.found ?? 'collection'}); left as it is` });
      continue;
    }
    if (validatorsSupported) {
      try {
        await db.createCollection(planned.name, { validator: planned.validator, validationLevel: 'moderate' });
        actions.push({ action: 'created-collection', collection: planned.name, detail: 'created with our validator' });
        continue;
      } catch (error) {
        if (isNamespaceExists(error)) {
          actions.push({ action: 'kept-collection', collection: planned.name, detail: 'created meanwhile by someone else; left as it is' });
          continue;
        }
        if (!isNotImplemented(error)) throw error;
        validatorsSupported = false;
      }
    }
    warnNoValidators();
    actions.push((await createPlain(db, planned.name)) ? { action: 'created-collection', collection: planned.name, detail: 'created (no validator: the server has none)' } : { action: 'kept-collection', collection: planned.name, detail: 'created meanwhile by someone else; left as it is' });
  }
  if (before.items.some((item) => item.kind === 'ledger' && item.status === 'missing')) {
    if (await createPlain(db, plan.ledger)) actions.push({ action: 'created-collection', collection: plan.ledger, detail: 'the importer\'s ledger' });
  }

  for (const index of plan.indexes) {
    const collection = names[index.role];
    const item = before.items.find((candidate) => candidate.kind === 'index' && candidate.collection === collection && candidate.key === formatKey(index.key) && candidate.status !== 'extra');
    if (item && item.status !== 'missing') {
      actions.push({ action: 'kept-index', collection, name: item.name, key: item.key, detail: item.name === index.options.name ? 'exists' : `exists under the name ${item.name ?? '?'} (same key): adopted` });
      continue;
    }
    if (!server.sparseIndexes && index.options.sparse) warn('the server ignores the "sparse" index option; the tenant index is created non-sparse');
    actions.push(await createIndex(db, collection, index, warn));
  }
  return { before, actions };
}

async function createPlain(db: Db, name: string): Promise<boolean> {
  try {
    await db.createCollection(name);
    return true;
  } catch (error) {
    if (isNamespaceExists(error)) return false;
    throw error;
  }
}

/**
 * Creates one missing index under its usual name, or another when that name is taken by another
 * key. If someone created an index with the same key meanwhile (another importer, the migration),
 * that one is adopted when it is acceptable.
 */
async function createIndex(db: Db, collection: string, index: IndexPlan, warn: SchemaWarn): Promise<SchemaAction> {
  const key = formatKey(index.key);
  const existing = await listIndexesOf(db, collection);
  const name = freeName(index.options.name, existing.filter((doc) => !sameKey(doc.key as Document | undefined, index.key)));
  const options = { ...index.options, name };
  try {
    try {
      await db.collection(collection).createIndex({ ...index.key }, options);
    } catch (error) {
      if (index.options.expireAfterSeconds === undefined || !isNotImplemented(error)) throw error;
      warn('the server does not implement TTL indexes; the logs timestamp index is created without retention');
      const { expireAfterSeconds: _ttl, ...withoutTtl } = options;
      await db.collection(collection).createIndex({ ...index.key }, withoutTtl);
    }
    return { action: 'created-index', collection, name, key, detail: `created (${describeIndexOptions(options)})${name === index.options.name ? '' : `; the name ${index.options.name} is taken by another index`}` };
  } catch (error) {
    const code = error instanceof MongoServerError ? error.code : undefined;
    if (code === INDEX_OPTIONS_CONFLICT || code === INDEX_KEY_SPECS_CONFLICT) {
      // An index with this key appeared since we looked (or the name did): judge it as we judge any.
      const now = await listIndexesOf(db, collection);
      const same = now.find((doc) => sameKey(doc.key as Document | undefined, index.key));
      if (same && (!index.options.unique || same.unique === true)) {
        return { action: 'kept-index', collection, name: String(same.name), key, detail: `created meanwhile as ${String(same.name)} (${describeFoundIndex(same)}): adopted` };
      }
    }
    if (index.options.unique) {
      const why =
        code === DUPLICATE_KEY
          ? `the collection already holds documents that share a key (${(error as Error).message}). ` +
            `Find them with db.${collection}.aggregate([{ $group: { _id: ${groupKey(index)}, n: { $sum: 1 } } }, { $match: { n: { $gt: 1 } } }]), resolve them, then run the same command again.`
          : `${(error as Error).message}. Without it re-runs could duplicate records; check the index with \`taskrunner-backfill schema --check\`, then run the same command again.`;
      throw new BackfillRuntimeError('DB_WRITE_FAILED', `cannot create the unique index ${key} on ${collection}: ${why}`, { cause: error });
    }
    warn(`index ${name} ${key} on ${collection} was not created: ${(error as Error).message}`);
    return { action: 'kept-index', collection, name, key, detail: `not created: ${(error as Error).message}` };
  }
}

function groupKey(index: IndexPlan): string {
  return `{ ${Object.keys(index.key).map((field) => `${field}: "$${field}"`).join(', ')} }`;
}

function describeIndexOptions(options: IndexPlan['options']): string {
  const parts = [options.unique ? 'unique' : 'plain'];
  if (options.sparse) parts.push('sparse');
  if (options.expireAfterSeconds !== undefined) parts.push(`TTL ${options.expireAfterSeconds} s`);
  return parts.join(', ');
}

/** `name`, or `name_2`, `name_3`... the first not used by another index of the collection. */
function freeName(name: string, others: readonly Document[]): string {
  const used = new Set(others.map((doc) => String(doc.name)));
  if (!used.has(name)) return name;
  for (let n = 2; ; n++) if (!used.has(`${name}_${n}`)) return `${name}_${n}`;
}

function isNamespaceExists(error: unknown): boolean {
  return (error as { code?: unknown }).code === NAMESPACE_EXISTS;
}

/**
 * The stop: what differs (collection, index name, key, options found vs expected), why it matters,
 * and what the operator can do. Never suggests dropping an index that is as the spec asks.
 */
export function schemaConflictError(check: SchemaCheck): BackfillRuntimeError {
  const lines = check.items.filter((item) => item.blocksImport).map((item) => `  - ${conflictLine(item)}`);
  return new BackfillRuntimeError(
    'SCHEMA_CONFLICT',
    `the database ${check.database} differs from the collection spec where it matters; stopped before writing anything ` +
      `(no collection, index, lease or document was written):\n${lines.join('\n')}\n` +
      'Everything else already there is adopted as it is (indexes with the spec\'s keys under any name, existing validators). ' +
      'See the whole comparison with: taskrunner-backfill schema --check',
  );
}

function conflictLine(item: SchemaItem): string {
  const what = item.kind === 'index' ? `index ${item.name ?? '?'} on ${item.key ?? '?'}` : item.kind === 'ledger' ? 'ledger collection' : 'collection';
  const note = item.note ? ` ${sentence(item.note)}` : '';
  return `${item.collection}, ${what}: found ${item.found}; expected ${item.expected}.${note}${item.hint ? ` ${item.hint}` : ''}`;
}
