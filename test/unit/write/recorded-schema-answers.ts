/**
 * `listCollections` / `listIndexes` answers for the pure schema comparison.
 *
 * FERRETDB_*: recorded from FerretDB v1.24.2 (SQLite) on this project's machine after `schema`
 * created the spec's collections and indexes (2026-11-29). MONGODB_*: MongoDB's answer shape
 * (listCollections: name, type, options with validator/validationLevel/validationAction, info,
 * idIndex; listIndexes: v, key, name and the options that are set), for a database prepared the
 * way a platform migration would: its own index names and its own validators. The test server
 * here cannot hold validators or TTL indexes, so those answers are written, not recorded.
 */
import type { Document } from 'mongodb';
import type { ObservedSchema } from '../../../src/write/compare-schema.js';

const info = { readOnly: false, uuid: '185f516f-8500-4c71-b1ff-510c8ab49982' };
const idIndex = { v: 2, key: { _id: 1 }, name: '_id_' };

export const FERRETDB_AFTER_SCHEMA: ObservedSchema = {
  collections: [
    { name: 'pack_artifacts', type: 'collection', idIndex, options: {}, info },
    { name: 'pack_run_approvals', type: 'collection', idIndex, options: {}, info },
    { name: 'pack_run_logs', type: 'collection', idIndex, options: {}, info },
    { name: 'pack_runs', type: 'collection', idIndex, options: {}, info },
    { name: 'taskrunner_backfill_ledger', type: 'collection', idIndex, options: {}, info },
  ],
  indexes: new Map<string, Document[]>([
    ['pack_artifacts', [idIndex, { v: 2, key: { runId: 1 }, name: 'runId_1' }, { v: 2, key: { runId: 1, name: 1 }, name: 'runId_1_name_1', unique: true }]],
    ['pack_run_approvals', [idIndex, { v: 2, key: { runId: 1, approvalId: 1 }, name: 'runId_1_approvalId_1', unique: true }]],
    [
      'pack_run_logs',
      [
        idIndex,
        { v: 2, key: { runId: 1, sequence: 1 }, name: 'runId_1_sequence_1', unique: true },
        { v: 2, key: { runId: 1, timestamp: 1 }, name: 'runId_1_timestamp_1' },
        { v: 2, key: { timestamp: 1 }, name: 'timestamp_1' },
      ],
    ],
    ['pack_runs', [idIndex, { v: 2, key: { tenantId: 1, updatedAt: -1 }, name: 'tenantId_1_updatedAt_-1' }, { v: 2, key: { updatedAt: -1 }, name: 'updatedAt_-1' }]],
    ['taskrunner_backfill_ledger', [idIndex]],
  ]),
};

/** A migration's own validator for the logs: required fields only (not ours). */
export const MIGRATION_LOGS_VALIDATOR: Document = {
  $jsonSchema: { bsonType: 'object', required: ['runId', 'sequence', 'timestamp', 'level', 'eventType', 'message'] },
};

/** What a baseline migration typically leaves: its own names, its own validators, no ledger yet. */
export function mongodbMigrationSchema(overrides: { logsIndexes?: Document[]; logsOptions?: Document; runsIndexes?: Document[]; artifactsIndexes?: Document[] } = {}): ObservedSchema {
  const withValidator = (name: string, validator: Document): Document => ({
    name,
    type: 'collection',
    options: { validator, validationLevel: 'strict', validationAction: 'error' },
    info,
    idIndex,
  });
  return {
    collections: [
      withValidator('pack_runs', { $jsonSchema: { bsonType: 'object', required: ['planHash', 'updatedAt'] } }),
      { ...withValidator('pack_run_logs', MIGRATION_LOGS_VALIDATOR), ...(overrides.logsOptions ? { options: overrides.logsOptions } : {}) },
      withValidator('pack_artifacts', { $jsonSchema: { bsonType: 'object', required: ['runId', 'name'] } }),
      withValidator('pack_run_approvals', { runId: { $type: 'string' } }),
    ],
    indexes: new Map<string, Document[]>([
      ['pack_runs', overrides.runsIndexes ?? [idIndex, { v: 2, key: { updatedAt: -1 }, name: 'ix_runs_updated' }, { v: 2, key: { tenantId: 1, updatedAt: -1 }, name: 'ix_runs_tenant_updated', sparse: true }]],
      [
        'pack_run_logs',
        overrides.logsIndexes ?? [
          idIndex,
          { v: 2, key: { runId: 1, sequence: 1 }, name: 'ux_logs_run_sequence', unique: true },
          { v: 2, key: { runId: 1, timestamp: 1 }, name: 'ix_logs_run_time' },
          { v: 2, key: { timestamp: 1 }, name: 'ix_logs_time' },
        ],
      ],
      ['pack_artifacts', overrides.artifactsIndexes ?? [idIndex, { v: 2, key: { runId: 1, name: 1 }, name: 'ux_artifacts_run_name', unique: true }, { v: 2, key: { runId: 1 }, name: 'ix_artifacts_run' }]],
      ['pack_run_approvals', [idIndex, { v: 2, key: { runId: 1, approvalId: 1 }, name: 'ux_approvals_run_approval', unique: true }]],
    ]),
  };
}
