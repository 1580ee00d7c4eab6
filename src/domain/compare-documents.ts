import { ObjectId } from 'mongodb';

/**
 * BSON-aware equality for documents as the driver returns them with `useBigInt64: true`:
 * Int64 reads as bigint, Int32 and Double as number, so a type change is a difference.
 * Dates compare by millisecond; object key order does not matter.
 */
export function sameValue(expected: unknown, actual: unknown): boolean {
  if (expected === actual) return true;
  if (expected instanceof Date || actual instanceof Date) {
    return expected instanceof Date && actual instanceof Date && expected.getTime() === actual.getTime();
  }
  if (expected instanceof ObjectId || actual instanceof ObjectId) {
    return expected instanceof ObjectId && actual instanceof ObjectId && expected.equals(actual);
  }
  if (typeof expected === 'number' && typeof actual === 'number') {
    return Number.isNaN(expected) && Number.isNaN(actual);
  }
  if (Array.isArray(expected) || Array.isArray(actual)) {
    if (!Array.isArray(expected) || !Array.isArray(actual) || expected.length !== actual.length) return false;
    return expected.every((item, index) => sameValue(item, actual[index]));
  }
  if (isRecord(expected) && isRecord(actual)) {
    const expectedKeys = Object.keys(expected);
    if (expectedKeys.length !== Object.keys(actual).length) return false;
    return expectedKeys.every((key) => Object.hasOwn(actual, key) && sameValue(expected[key], actual[key]));
  }
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Top-level fields (except `_id`) whose values differ, in a stable order. */
export function differingFields(expected: object, actual: object): string[] {
  const left = expected as Record<string, unknown>;
  const right = actual as Record<string, unknown>;
  const names = new Set([...Object.keys(left), ...Object.keys(right)]);
  names.delete('_id');
  return [...names].filter((name) => !sameValue(left[name], right[name])).sort();
}

/**
 * One field's difference, rendered for reports: dates in ISO form at millisecond precision,
 * bigints with an `n`, long values cut.
 */
export function renderValue(value: unknown): string {
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return `${item.toString()}n`;
    return item;
  });
  const shown = text === undefined ? 'missing' : text;
  return shown.length > 160 ? `${shown.slice(0, 157)}...` : shown;
}
