import type { CreateIndexesOptions, Db, IndexSpecification } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import { BackfillRuntimeError } from '../errors.js';
import { COLLECTION_ROLES, type CollectionRole } from '../report/types.js';
import { VALIDATORS } from './schema-validators.js';
import { isNotImplemented } from './server-errors.js';

export interface SchemaOptions {
  /** Make the logs `{ timestamp: 1 }` index a TTL index with this retention. Off by default (spec). */
  logsRetentionDays?: number;
}

interface IndexPlan {
  role: CollectionRole;
  key: IndexSpecification;
  options: CreateIndexesOptions & { name: string };
}

/** The spec's indexes, unique ones first "to surface data issues early". */
export function plannedIndexes(options: SchemaOptions): IndexPlan[] {
  const ttl =
    options.logsRetentionDays === undefined ? {} : { expireAfterSeconds: Math.round(options.logsRetentionDays * 86_400) };
  return [
    { role: 'logs', key: { runId: 1, sequence: 1 }, options: { name: 'runId_1_sequence_1', unique: true } },
    { role: 'artifacts', key: { runId: 1, name: 1 }, options: { name: 'runId_1_name_1', unique: true } },
    { role: 'approvals', key: { runId: 1, approvalId: 1 }, options: { name: 'runId_1_approvalId_1', unique: true } },
    { role: 'runs', key: { updatedAt: -1 }, options: { name: 'updatedAt_-1' } },
    { role: 'runs', key: { tenantId: 1, updatedAt: -1 }, options: { name: 'tenantId_1_updatedAt_-1', sparse: true } },
    { role: 'logs', key: { runId: 1, timestamp: 1 }, options: { name: 'runId_1_timestamp_1' } },
    { role: 'logs', key: { timestamp: 1 }, options: { name: 'timestamp_1', ...ttl } },
    { role: 'artifacts', key: { runId: 1 }, options: { name: 'runId_1' } },
  ];
}

/**
 * Creates the collections (with validators where the server supports them) and the indexes, in
 * the spec's execution order. Safe to repeat: existing collections and indexes are left as they are.
 * On a server that answers "not implemented" (validators, TTL: see the server profile) it warns once and goes on.
 */
export async function ensureSchema(
  db: Db,
  names: CollectionNames,
  options: SchemaOptions,
  warn: (message: string) => void,
  /** The server accepts the `sparse` option and ignores it (server profile): say so once. */
  sparseIgnored: boolean,
): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  let validatorsSupported = true;
  for (const role of COLLECTION_ROLES) {
    const name = names[role];
    if (existing.has(name)) continue;
    if (validatorsSupported) {
      try {
        await db.createCollection(name, { validator: VALIDATORS[role], validationLevel: 'moderate' });
        continue;
      } catch (error) {
        if (isNamespaceExists(error)) continue;
        if (!isNotImplemented(error)) throw error;
        validatorsSupported = false;
        warn('the server does not implement $jsonSchema validators; collections are created without them');
      }
    }
    try {
      await db.createCollection(name);
    } catch (error) {
      if (!isNamespaceExists(error)) throw error;
    }
  }
  if (sparseIgnored) warn('the server ignores the "sparse" index option; the tenant index is created non-sparse');
  for (const index of plannedIndexes(options)) {
    try {
      await db.collection(names[index.role]).createIndex(index.key, index.options);
    } catch (error) {
      if (index.options.expireAfterSeconds !== undefined && isNotImplemented(error)) {
        warn('the server does not implement TTL indexes; the logs timestamp index is created without retention');
        await db.collection(names[index.role]).createIndex(index.key, { name: index.options.name });
        continue;
      }
      if (index.options.unique) {
        throw new BackfillRuntimeError(
          'DB_WRITE_FAILED',
          `cannot create the unique index ${index.options.name} on ${names[index.role]}: ${(error as Error).message}. ` +
            'Without it re-runs could duplicate records; resolve the duplicates or the conflicting index and re-run.',
          { cause: error },
        );
      }
      warn(`index ${index.options.name} on ${names[index.role]} was not created: ${(error as Error).message}`);
    }
  }
}

function isNamespaceExists(error: unknown): boolean {
  return (error as { code?: unknown }).code === 48;
}

