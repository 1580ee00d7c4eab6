import type { Document } from 'mongodb';
import type { FieldDifference } from '../report/verify-report.js';
import { differingFields } from '../domain/compare-documents.js';
import { compareVersions, versionOf } from '../domain/version-rules.js';
import { fieldDifferences } from './field-differences.js';
import type { VerifyKeySpec } from './verify-keys.js';

/** What the database holds for one source record. */
export type Verdict =
  | { kind: 'match' }
  | { kind: 'missing' }
  | { kind: 'keptNewer'; fileVersion: string; databaseVersion: string }
  | { kind: 'mismatch'; fields: string[]; differences: FieldDifference[] };

/**
 * The import's rules, read backwards: a stored document equal to the file (ignoring `_id`) is a
 * match; a different one whose version is newer than the file's is what import keeps
 * (`keptNewer`); any other difference is a mismatch. Log entries have no version: any difference
 * is a mismatch. Pure.
 */
export function classifyDocument(spec: VerifyKeySpec, expected: Document, stored: Document | undefined): Verdict {
  if (!stored) return { kind: 'missing' };
  const fields = differingFields(expected, stored);
  if (fields.length === 0) return { kind: 'match' };
  if (spec.versionFields.length > 0) {
    const order = compareVersions(versionOf(stored, spec.versionFields), versionOf(expected, spec.versionFields));
    if (order > 0) {
      return { kind: 'keptNewer', fileVersion: renderVersion(expected, spec), databaseVersion: renderVersion(stored, spec) };
    }
  }
  return { kind: 'mismatch', fields, differences: fieldDifferences(expected, stored) };
}

function renderVersion(doc: Document, spec: VerifyKeySpec): string {
  return spec.versionFields
    .map((field) => {
      const value: unknown = doc[field];
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a version that is not a date is shown as its text (a string or a number in practice)
      return `${field}=${value instanceof Date ? value.toISOString() : value === null || value === undefined ? 'null' : String(value)}`;
    })
    .join(', ');
}
