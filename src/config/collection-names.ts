import type { CollectionRole } from '../domain/collection-roles.js';

/** Database collection names by role, plus the importer's own ledger. */
export type CollectionNames = Readonly<Record<CollectionRole | 'ledger', string>>;

/** The spec's names (`TaskRunner:Storage:Mongo` defaults) and the ledger's. */
export const DEFAULT_COLLECTION_NAMES: CollectionNames = Object.freeze({
  runs: 'pack_runs',
  logs: 'pack_run_logs',
  approvals: 'pack_run_approvals',
  artifacts: 'pack_artifacts',
  ledger: 'taskrunner_backfill_ledger',
});
