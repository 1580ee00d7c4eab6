import type { Document } from 'mongodb';
import type { CollectionRole } from '../domain/collection-roles.js';
import { VERSION_FIELDS } from '../domain/version-rules.js';

/** How verify finds one collection's documents of a run, and orders their versions. */
export interface VerifyKeySpec {
  role: CollectionRole;
  /** The field that tells documents of one run apart (`_id` for runs: one document per run). */
  keyField: string;
  /** Version fields, most significant first; empty for logs, which are immutable. */
  versionFields: readonly string[];
}

/** The unique keys of the layout page: `_id`; `(runId, sequence)`; `(runId, name)`; `(runId, approvalId)`. */
export const VERIFY_SPECS: Readonly<Record<CollectionRole, VerifyKeySpec>> = Object.freeze({
  runs: { role: 'runs', keyField: '_id', versionFields: VERSION_FIELDS.runs },
  logs: { role: 'logs', keyField: 'sequence', versionFields: VERSION_FIELDS.logs },
  approvals: { role: 'approvals', keyField: 'approvalId', versionFields: VERSION_FIELDS.approvals },
  artifacts: { role: 'artifacts', keyField: 'name', versionFields: VERSION_FIELDS.artifacts },
});

/** The run a document belongs to. */
export function runIdOf(role: CollectionRole, doc: Document): string {
  return String(role === 'runs' ? doc._id : doc.runId);
}

/** The document's key within its run, as text (`12` for a log sequence, whatever its BSON number type). */
export function keyWithinRun(role: CollectionRole, doc: Document): string {
  return String(doc[VERIFY_SPECS[role].keyField]);
}
