import { InvalidRecord, describeValue } from './invalid-record.js';

/**
 * The one mapping table for enums. Names are in declaration order, so a name's index is the
 * number the provider writes when it serializes enums as numbers.
 */
export const ENUM_TABLES = {
  stepStatus: ['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped'],
  stepKind: ['Unknown', 'Run', 'GateApproval', 'GatePolicy', 'Parallel', 'Map', 'Loop', 'Conditional'],
  approvalStatus: ['Pending', 'Approved', 'Rejected', 'Expired'],
} as const satisfies Record<string, readonly string[]>;

export type EnumName = keyof typeof ENUM_TABLES;

/**
 * How enums are written to the database. `camel` is what .NET's camelCase string-enum converter
 * writes (`gateApproval`), `pascal` the declared name (`GateApproval`), `number` the ordinal.
 */
export type EnumStyle = 'camel' | 'pascal' | 'number';
export const ENUM_STYLES: readonly EnumStyle[] = ['camel', 'pascal', 'number'];

export type EnumValue = string | number;

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Reads an enum written as a name in any case or as its number; returns its ordinal. */
export function parseEnum(table: EnumName, value: unknown, field: string): number {
  const names: readonly string[] = ENUM_TABLES[table];
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < names.length) return value;
  } else if (typeof value === 'string') {
    const wanted = value.trim().toLowerCase();
    const index = names.findIndex((name) => name.toLowerCase() === wanted);
    if (index >= 0) return index;
    // Numbers written as strings ("2") occur in hand-edited files.
    if (/^\d+$/.test(wanted) && Number(wanted) < names.length) return Number(wanted);
  } else if (value === undefined || value === null) {
    throw new InvalidRecord('missing-field', `"${field}" is missing`);
  }
  throw new InvalidRecord(
    'unknown-enum',
    `"${field}" has unknown value ${describeValue(value)}; expected one of ${names
      .map((name, index) => `${camel(name)} (${index})`)
      .join(', ')}`,
  );
}

/** Writes an enum ordinal in the configured style. */
export function formatEnum(table: EnumName, ordinal: number, style: EnumStyle): EnumValue {
  const name = ENUM_TABLES[table][ordinal];
  if (name === undefined) throw new RangeError(`enum ${table} has no ordinal ${ordinal}`);
  if (style === 'number') return ordinal;
  return style === 'pascal' ? name : camel(name);
}
