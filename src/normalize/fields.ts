import { InvalidRecord, describeValue } from './invalid-record.js';

export type JsonObject = { [key: string]: unknown };

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireObject(value: unknown, what: string): JsonObject {
  if (!isPlainObject(value)) {
    throw new InvalidRecord('wrong-shape', `${what} is not a JSON object (${describeValue(value)})`);
  }
  return value;
}

/**
 * Case-insensitive view of one JSON object's properties (the provider wrote camelCase or
 * PascalCase). Keys are data from files, so they live in a Map, never as object properties.
 */
export class RecordFields {
  private readonly byLowerName = new Map<string, { name: string; value: unknown }>();

  constructor(readonly source: JsonObject) {
    for (const name of Object.keys(source)) {
      const value = source[name];
      const lower = name.toLowerCase();
      const previous = this.byLowerName.get(lower);
      if (previous && JSON.stringify(previous.value) !== JSON.stringify(value)) {
        throw new InvalidRecord(
          'duplicate-key',
          `properties "${previous.name}" and "${name}" differ only in case and hold different values`,
        );
      }
      if (!previous) this.byLowerName.set(lower, { name, value });
    }
  }

  /** The value of a property by case-insensitive name; `null` and missing both read as undefined. */
  get(name: string): unknown {
    const value = this.byLowerName.get(name.toLowerCase())?.value;
    return value === null ? undefined : value;
  }

  /** Property names (as written) that are not among `known` (compared case-insensitively). */
  unknownNames(known: ReadonlySet<string>): string[] {
    const unknown: string[] = [];
    for (const [lower, { name }] of this.byLowerName) if (!known.has(lower)) unknown.push(name);
    return unknown;
  }

  /** Every property as [name, value], in source order, first spelling wins. */
  entries(): Array<[string, unknown]> {
    return [...this.byLowerName.values()].map(({ name, value }) => [name, value]);
  }
}

/** Lower-cased names, for `RecordFields.unknownNames`. */
export function knownFieldSet(names: readonly string[]): ReadonlySet<string> {
  return new Set(names.map((name) => name.toLowerCase()));
}

export function requireString(value: unknown, field: string): string {
  if (value === undefined) throw new InvalidRecord('missing-field', `"${field}" is missing`);
  if (typeof value !== 'string') {
    throw new InvalidRecord('invalid-field', `"${field}" is not a string (${describeValue(value)})`);
  }
  return value;
}

export function requireNonEmptyString(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (text.length === 0) throw new InvalidRecord('missing-field', `"${field}" is empty`);
  return text;
}

export function optionalString(value: unknown, field: string): string | null {
  return value === undefined ? null : requireString(value, field);
}

export function optionalBoolean(value: unknown, field: string): boolean | null {
  if (value === undefined) return null;
  if (typeof value !== 'boolean') {
    throw new InvalidRecord('invalid-field', `"${field}" is not true or false (${describeValue(value)})`);
  }
  return value;
}

export function requireBoolean(value: unknown, field: string): boolean {
  if (value === undefined) throw new InvalidRecord('missing-field', `"${field}" is missing`);
  return optionalBoolean(value, field) as boolean;
}

/** A JSON number that is a whole number a .NET int/long and a JS number can both hold exactly. */
export function optionalSafeInteger(value: unknown, field: string): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidRecord(
      'invalid-field',
      `"${field}" is not a whole number within ±2^53 (${describeValue(value)})`,
    );
  }
  return value;
}

export function requireSafeInteger(value: unknown, field: string): number {
  if (value === undefined) throw new InvalidRecord('missing-field', `"${field}" is missing`);
  return optionalSafeInteger(value, field) as number;
}

export function requireFiniteNumber(value: unknown, field: string): number {
  if (value === undefined) throw new InvalidRecord('missing-field', `"${field}" is missing`);
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidRecord('invalid-field', `"${field}" is not a finite number (${describeValue(value)})`);
  }
  return value;
}

/** A list of strings; missing or null gives an empty list. */
export function stringList(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw new InvalidRecord('invalid-field', `"${field}" is not a list of strings (${describeValue(value)})`);
  }
  return [...value];
}

/**
 * .NET's JsonNamingPolicy.CamelCase: lower-cases the leading run of capitals, except the last one
 * when a lower-case letter follows ("URLValue" -> "urlValue", "StepId" -> "stepId", "ID" -> "id").
 */
export function toCamelCase(name: string): string {
  const isUpper = (char: string | undefined): boolean =>
    char !== undefined && char !== char.toLowerCase() && char === char.toUpperCase();
  if (!isUpper(name.charAt(0))) return name;
  const chars = [...name];
  for (let i = 0; i < chars.length; i++) {
    if (i === 1 && !isUpper(chars[i])) break;
    const next = chars[i + 1];
    if (i > 0 && next !== undefined && !isUpper(next)) {
      if (next === ' ') chars[i] = (chars[i] as string).toLowerCase();
      break;
    }
    chars[i] = (chars[i] as string).toLowerCase();
  }
  return chars.join('');
}
