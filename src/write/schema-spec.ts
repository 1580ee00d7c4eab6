import type { Document } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import { VALIDATORS } from './schema-validators.js';

/** Options that change what the spec asks of the database. */
export interface SchemaOptions {
  /** Make the logs `{ timestamp: 1 }` index a TTL index with this retention. Off by default (spec). */
  logsRetentionDays?: number;
}

/** An index key as the spec writes it: field order matters, 1 or -1 per field. */
export type IndexKey = Readonly<Record<string, 1 | -1>>;

/** One index the spec asks for. `name` is the one we give it when we create it. */
export interface IndexPlan {
  role: CollectionRole;
  key: IndexKey;
  options: { name: string; unique?: boolean; sparse?: boolean; expireAfterSeconds?: number };
}

/** One collection the spec asks for, with the validator we would create it with. */
export interface CollectionPlan {
  role: CollectionRole;
  name: string;
  validator: Document;
}

/** Everything the spec asks of one database, with this installation's collection names. */
export interface SchemaPlan {
  collections: CollectionPlan[];
  /** Unique indexes first ("to surface data issues early"), then the others, in the spec's order. */
  indexes: IndexPlan[];
  /** The importer's own collection (lease, sessions, ledger); created by its first write. */
  ledger: string;
  /** Retention of the logs TTL index in seconds, or undefined for none (the spec's default). */
  logsTtlSeconds: number | undefined;
}

/** `--logs-retention-days` in seconds, as the TTL index holds it. */
export function retentionSeconds(days: number | undefined): number | undefined {
  return days === undefined ? undefined : Math.round(days * 86_400);
}

/** The spec's indexes, unique ones first "to surface data issues early". */
export function plannedIndexes(options: SchemaOptions): IndexPlan[] {
  const seconds = retentionSeconds(options.logsRetentionDays);
  const ttl = seconds === undefined ? {} : { expireAfterSeconds: seconds };
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

export function schemaPlan(names: CollectionNames, options: SchemaOptions): SchemaPlan {
  return {
    collections: COLLECTION_ROLES.map((role) => ({ role, name: names[role], validator: VALIDATORS[role] })),
    indexes: plannedIndexes(options),
    ledger: names.ledger,
    logsTtlSeconds: retentionSeconds(options.logsRetentionDays),
  };
}

/** `{ runId: 1, sequence: 1 }`: how messages show an index key. */
export function formatKey(key: Readonly<Record<string, unknown>>): string {
  const fields = Object.entries(key).map(([field, direction]) => `${/^[A-Za-z_$][\w$]*$/.test(field) ? field : JSON.stringify(field)}: ${typeof direction === 'string' ? JSON.stringify(direction) : String(direction)}`);
  return `{ ${fields.join(', ')} }`;
}
