import { describe, expect, it } from 'vitest';
import {
  RecordFields,
  knownFieldSet,
  optionalSafeInteger,
  optionalString,
  requireObject,
  stringList,
  toCamelCase,
} from '../../../src/normalize/fields.js';
import { InvalidRecord } from '../../../src/normalize/invalid-record.js';

function reasonOf(produce: () => unknown): string | undefined {
  try {
    produce();
  } catch (error) {
    if (error instanceof InvalidRecord) return error.reason;
    throw error;
  }
  return undefined;
}

describe('toCamelCase (.NET JsonNamingPolicy.CamelCase)', () => {
  // The cases of dotnet/runtime's CamelCaseUnitTests.
  it.each([
    ['URLValue', 'urlValue'],
    ['URL', 'url'],
    ['ID', 'id'],
    ['I', 'i'],
    ['', ''],
    ['Person', 'person'],
    ['iPhone', 'iPhone'],
    ['IPhone', 'iPhone'],
    ['I Phone', 'i Phone'],
    ['I  Phone', 'i  Phone'],
    [' IPhone', ' IPhone'],
    [' IPhone ', ' IPhone '],
    ['IsCIA', 'isCIA'],
    ['VmQ', 'vmQ'],
    ['Xml2Json', 'xml2Json'],
    ['SnAkEcAsE', 'snAkEcAsE'],
    ['SnA__kEcAsE', 'snA__kEcAsE'],
    ['SnA__ kEcAsE', 'snA__ kEcAsE'],
    ['already_snake_case_ ', 'already_snake_case_ '],
    ['IsJSONProperty', 'isJSONProperty'],
    ['SHOUTING_CASE', 'shoutinG_CASE'],
    ['9999-12-31T23:59:59.9999999Z', '9999-12-31T23:59:59.9999999Z'],
    ['Hi!! This is text. Time to test.', 'hi!! This is text. Time to test.'],
    ['BUILDING', 'building'],
    ['BUILDING Property', 'building Property'],
    ['Building Property', 'building Property'],
    ['BUILDING PROPERTY', 'building PROPERTY'],
    // Step fields as the provider writes them.
    ['StepId', 'stepId'],
    ['LastTransitionAt', 'lastTransitionAt'],
    ['stepId', 'stepId'],
  ])('%j -> %j', (name, expected) => {
    expect(toCamelCase(name)).toBe(expected);
  });
});

describe('RecordFields', () => {
  it('looks properties up case-insensitively; null reads as missing', () => {
    const fields = new RecordFields({ RunId: 'r1', planHash: 'h', TenantId: null });
    expect(fields.get('runId')).toBe('r1');
    expect(fields.get('RUNID')).toBe('r1');
    expect(fields.get('PlanHash')).toBe('h');
    expect(fields.get('tenantId')).toBeUndefined();
    expect(fields.get('steps')).toBeUndefined();
  });

  it('names the unknown properties as written', () => {
    const fields = new RecordFields({ RunId: 'r1', LegacyOwner: 'x', extra: 1 });
    expect(fields.unknownNames(knownFieldSet(['runId']))).toEqual(['LegacyOwner', 'extra']);
  });

  it('accepts two spellings of one property only when they agree', () => {
    expect(new RecordFields({ runId: 'r1', RunId: 'r1' }).entries()).toEqual([['runId', 'r1']]);
    expect(reasonOf(() => new RecordFields({ runId: 'r1', RunId: 'r2' }))).toBe('duplicate-key');
  });

  it('keeps a "__proto__" key as data', () => {
    const source = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const fields = new RecordFields(source);
    expect(fields.get('__proto__')).toEqual({ polluted: true });
    expect(fields.unknownNames(knownFieldSet(['a']))).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('value readers', () => {
  it('requireObject refuses arrays, null and scalars', () => {
    expect(requireObject({}, 'x')).toEqual({});
    for (const value of [[], null, 'x', 1]) expect(reasonOf(() => requireObject(value, 'x'))).toBe('wrong-shape');
  });

  it('optionalString gives null for missing and refuses non-strings', () => {
    expect(optionalString(undefined, 'notes')).toBeNull();
    expect(optionalString('', 'notes')).toBe('');
    expect(reasonOf(() => optionalString(3, 'notes'))).toBe('invalid-field');
  });

  it('optionalSafeInteger accepts whole numbers within ±2^53 only', () => {
    expect(optionalSafeInteger(undefined, 'attempts')).toBeNull();
    expect(optionalSafeInteger(0, 'attempts')).toBe(0);
    for (const value of [1.5, 2 ** 53, '2', Number.NaN]) {
      expect(reasonOf(() => optionalSafeInteger(value, 'attempts')), String(value)).toBe('invalid-field');
    }
  });

  it('stringList gives [] for missing and refuses mixed lists', () => {
    expect(stringList(undefined, 'stepIds')).toEqual([]);
    expect(stringList(['a', 'b'], 'stepIds')).toEqual(['a', 'b']);
    expect(reasonOf(() => stringList(['a', 1], 'stepIds'))).toBe('invalid-field');
    expect(reasonOf(() => stringList('a', 'stepIds'))).toBe('invalid-field');
  });
});
