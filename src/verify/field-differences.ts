import { differingFields, renderValue, sameValue } from '../domain/compare-documents.js';
import type { FieldDifference } from '../report/verify-report.js';

/** How many differences of one document are spelled out. */
export const DIFFERENCES_PER_DOCUMENT = 8;

/**
 * The differences between what the source says and what the database holds, as paths
 * (`steps[2].status`): it descends into plain objects and into arrays of equal length, and
 * stops at the first `limit` leaves. Equality is `sameValue` (dates by millisecond, BSON number
 * types distinct); `_id` is never compared.
 */
export function fieldDifferences(expected: object, actual: object, limit = DIFFERENCES_PER_DOCUMENT): FieldDifference[] {
  const out: FieldDifference[] = [];
  const left = expected as Record<string, unknown>;
  const right = actual as Record<string, unknown>;
  for (const field of differingFields(expected, actual)) {
    if (out.length >= limit) break;
    collect(field, left[field], right[field], out, limit);
  }
  return out;
}

function collect(path: string, file: unknown, database: unknown, out: FieldDifference[], limit: number): void {
  if (out.length >= limit || sameValue(file, database)) return;
  if (Array.isArray(file) && Array.isArray(database) && file.length === database.length) {
    for (let i = 0; i < file.length && out.length < limit; i++) collect(`${path}[${i}]`, file[i], database[i], out, limit);
    return;
  }
  if (isPlainObject(file) && isPlainObject(database)) {
    const names = [...new Set([...Object.keys(file), ...Object.keys(database)])].sort();
    for (const name of names) {
      if (out.length >= limit) break;
      collect(`${path}.${name}`, file[name], database[name], out, limit);
    }
    return;
  }
  out.push({ path, file: renderValue(file), database: renderValue(database) });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}
