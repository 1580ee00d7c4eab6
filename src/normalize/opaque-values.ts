import { InvalidRecord } from './invalid-record.js';

/**
 * MongoDB refuses documents nested deeper than 100 levels. Values copied into a document are
 * checked against the depth left for them before anything recursive touches them, so hostile
 * input (JSON nested 100,000 levels deep) is rejected instead of overflowing the stack.
 */
export const MAX_BSON_DEPTH = 100;

/** Depth of a JSON value (a scalar is 0, `{}` is 1), computed without recursion; stops past `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number };
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    const children = Array.isArray(item.value) ? item.value : Object.values(item.value);
    for (const child of children) stack.push({ value: child, depth });
  }
  return deepest;
}

export function assertDepthWithin(value: unknown, limit: number, field: string): void {
  if (jsonDepth(value, limit) > limit) {
    throw new InvalidRecord('too-deep', `"${field}" nests more than ${limit} levels deep`);
  }
}

/**
 * Field names MongoDB cannot store as written (`.` anywhere, `$` first, a NUL byte) are
 * percent-encoded, and so is `%` itself so the encoding can be reversed exactly: `%` -> `%25`,
 * `.` -> `%2E`, NUL -> `%00`, a leading `$` -> `%24`. Every other key, the empty key included
 * (every server measured stores it), is kept as written.
 */
export function escapeFieldName(name: string): string {
  if (!/[.%\u0000]/.test(name) && !name.startsWith('$')) return name;
  const body = name.replace(/%/g, '%25').replace(/\./g, '%2E').replace(/\u0000/g, '%00');
  return body.startsWith('$') ? `%24${body.slice(1)}` : body;
}

const UNESCAPES: Readonly<Record<string, string>> = { '25': '%', '2E': '.', '00': '\u0000', '24': '$' };

/** Reverses `escapeFieldName`. */
export function unescapeFieldName(name: string): string {
  return name.replace(/%(25|2E|00|24)/g, (_, code: string) => UNESCAPES[code] ?? '');
}

/**
 * Copies an opaque JSON value (plan, step extras) verbatim except for field names that need
 * escaping. Objects are built with define-property semantics so a `__proto__` key stays data.
 * Call `assertDepthWithin` first: this recursion trusts the depth.
 */
export function copyWithStorableKeys(value: unknown, onEscaped: (name: string) => void): unknown {
  if (Array.isArray(value)) return value.map((item) => copyWithStorableKeys(item, onEscaped));
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, child]) => {
      const stored = escapeFieldName(name);
      if (stored !== name) onEscaped(name);
      return [stored, copyWithStorableKeys(child, onEscaped)];
    }),
  );
}

/** Canonical JSON: object keys sorted by code unit, no whitespace. Depth must be checked first. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, child]) => `${JSON.stringify(key)}:${canonicalJson(child)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
