import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRecord } from '../../../src/normalize/invalid-record.js';
import {
  MAX_BSON_DEPTH,
  assertDepthWithin,
  canonicalJson,
  copyWithStorableKeys,
  escapeFieldName,
  jsonDepth,
  unescapeFieldName,
} from '../../../src/normalize/opaque-values.js';

const DEEP = 100_000;

describe('jsonDepth and assertDepthWithin', () => {
  it('measures depth: a scalar is 0, {} is 1', () => {
    expect(jsonDepth('x', 10)).toBe(0);
    expect(jsonDepth(null, 10)).toBe(0);
    expect(jsonDepth({}, 10)).toBe(1);
    expect(jsonDepth([], 10)).toBe(1);
    expect(jsonDepth({ a: [{ b: 1 }], c: 2 }, 10)).toBe(3);
  });

  it('handles JSON nested 100,000 levels without overflowing the stack', () => {
    const arrays: unknown = JSON.parse(`${'['.repeat(DEEP)}${']'.repeat(DEEP)}`);
    const objects: unknown = JSON.parse(`${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`);
    for (const value of [arrays, objects]) {
      expect(jsonDepth(value, Number.POSITIVE_INFINITY)).toBe(DEEP);
      expect(jsonDepth(value, MAX_BSON_DEPTH)).toBe(MAX_BSON_DEPTH + 1); // stops just past the limit
      let caught: unknown;
      try {
        assertDepthWithin(value, MAX_BSON_DEPTH, 'plan');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidRecord);
      expect((caught as InvalidRecord).reason).toBe('too-deep');
      expect((caught as InvalidRecord).message).toContain('"plan"');
    }
  });

  it('accepts a value exactly at the limit and refuses one level more', () => {
    const nest = (levels: number): unknown => JSON.parse(`${'['.repeat(levels)}${']'.repeat(levels)}`);
    expect(() => assertDepthWithin(nest(MAX_BSON_DEPTH), MAX_BSON_DEPTH, 'x')).not.toThrow();
    expect(() => assertDepthWithin(nest(MAX_BSON_DEPTH + 1), MAX_BSON_DEPTH, 'x')).toThrow(InvalidRecord);
  });
});

describe('escapeFieldName and unescapeFieldName', () => {
  it.each([
    ['a.b', 'a%2Eb'],
    ['$set', '%24set'],
    ['$', '%24'],
    ['50%', '50%25'],
    ['a\u0000b', 'a%00b'],
    ['$a.b%', '%24a%2Eb%25'],
    ['%2E', '%252E'],
    ['%24x', '%2524x'],
  ])('%j <-> %j', (name, stored) => {
    expect(escapeFieldName(name)).toBe(stored);
    expect(unescapeFieldName(stored)).toBe(name);
  });

  it('keeps names MongoDB stores as written', () => {
    for (const name of ['plain', 'price$', 'a$b', '', ' ', '__proto__', 'ключ', 'a-b_c']) {
      expect(escapeFieldName(name)).toBe(name);
    }
  });

  it('round-trips any name, and the stored form has no ".", no NUL and no leading "$"', () => {
    const nameChars = fc.constantFrom('.', '$', '%', '\u0000', 'a', '2', 'E', '4', '5', '0', '_');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(nameChars).map((chars) => chars.join(''))), (name) => {
        const stored = escapeFieldName(name);
        expect(unescapeFieldName(stored)).toBe(name);
        expect(stored.includes('.')).toBe(false);
        expect(stored.includes('\u0000')).toBe(false);
        expect(stored.startsWith('$')).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('copyWithStorableKeys', () => {
  it('copies values verbatim, escaping only names that need it, at every level', () => {
    const escaped: string[] = [];
    const source = { 'a.b': { $ref: [{ 'x%': 1 }] }, plain: '2025-11-06T08:59:59.9999999+00:00', n: null, list: [1, 'two', true] };
    const copy = copyWithStorableKeys(source, (name) => escaped.push(name));
    expect(copy).toEqual({
      'a%2Eb': { '%24ref': [{ 'x%25': 1 }] },
      plain: '2025-11-06T08:59:59.9999999+00:00',
      n: null,
      list: [1, 'two', true],
    });
    expect(escaped.sort()).toEqual(['$ref', 'a.b', 'x%']);
    expect(copy).not.toBe(source);
  });

  it('keeps a "__proto__" key as an own data property, without touching prototypes', () => {
    const source = JSON.parse('{"__proto__": {"polluted": true}, "inner": {"__proto__": 1}}') as unknown;
    const copy = copyWithStorableKeys(source, () => undefined) as Record<string, unknown>;
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ polluted: true });
    expect(Object.hasOwn(copy.inner as object, '__proto__')).toBe(true);
    expect((copy as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

describe('canonicalJson', () => {
  it('sorts object keys at every level and adds no white space', () => {
    expect(canonicalJson({ tag: '1.4.2', repository: 'app', nested: { z: 1, a: [true, null, { y: 2, b: 'x' }] } })).toBe(
      '{"nested":{"a":[true,null,{"b":"x","y":2}],"z":1},"repository":"app","tag":"1.4.2"}',
    );
    expect(canonicalJson(['b', 'a'])).toBe('["b","a"]');
  });

  it('gives one text for objects that differ only in key order', () => {
    expect(canonicalJson({ a: 1, b: { c: 2, d: 3 } })).toBe(canonicalJson({ b: { d: 3, c: 2 }, a: 1 }));
  });
});
