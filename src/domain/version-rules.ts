import type { Document } from 'mongodb';
import type { CollectionRole } from './collection-roles.js';
import { differingFields } from './compare-documents.js';

/**
 * The layout page's version rules, shared by import (which decides what to write) and verify
 * (which tells a newer database copy from a mismatch).
 */

/**
 * The date fields that order the versions of a collection's documents, most significant first
 * (null or missing sorts before any date). Logs are immutable: no versions.
 */
export const VERSION_FIELDS: Readonly<Record<CollectionRole, readonly string[]>> = Object.freeze({
  runs: Object.freeze(['updatedAt']),
  logs: Object.freeze([]),
  approvals: Object.freeze(['completedAt', 'requestedAt']),
  artifacts: Object.freeze(['capturedAt']),
});

/** What to do with one record, given what the database holds. Pure. */
export type Decision =
  | { action: 'insert' }
  | { action: 'unchanged' }
  | { action: 'replace'; stored: Document }
  | { action: 'keptNewer' }
  | { action: 'conflict'; fields: string[] };

/**
 * The layout page's re-run rules: a stored document is replaced only when the file's version is
 * newer; an older file leaves a newer stored copy alone (`keptNewer`); the same version with other
 * content is a `conflict`. `overwrite` (an explicit operator flag) replaces in both cases.
 */
export function decide(
  doc: Document,
  stored: Document | undefined,
  versionFields: readonly string[],
  overwrite: boolean,
): Decision {
  if (!stored) return { action: 'insert' };
  const fields = differingFields(doc, stored);
  if (fields.length === 0) return { action: 'unchanged' };
  const order = compareVersions(versionOf(doc, versionFields), versionOf(stored, versionFields));
  if (order > 0 || overwrite) return { action: 'replace', stored };
  if (order < 0) return { action: 'keptNewer' };
  return { action: 'conflict', fields };
}

/** Version as numbers; null or missing dates are -Infinity, anything else unreadable is NaN. */
export function versionOf(doc: Document, fields: readonly string[]): number[] {
  return fields.map((field) => {
    const value: unknown = doc[field];
    if (value === null || value === undefined) return Number.NEGATIVE_INFINITY;
    return value instanceof Date ? value.getTime() : Number.NaN;
  });
}

/** >0 when a is newer, <0 when b is newer, 0 when equal or not comparable (then a conflict). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const left = a[i] as number;
    const right = b[i] as number;
    if (Number.isNaN(left) || Number.isNaN(right)) return 0;
    if (left !== right) return left > right ? 1 : -1;
  }
  return 0;
}
