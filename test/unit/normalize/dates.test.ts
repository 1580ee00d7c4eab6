import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { optionalDate, parseIsoTimestamp, parseIsoTimestampByRegex, requireDate } from '../../../src/normalize/dates.js';
import { InvalidRecord } from '../../../src/normalize/invalid-record.js';

const iso = (text: string): string | undefined => parseIsoTimestamp(text)?.toISOString();

function reasonOf(produce: () => unknown): string | undefined {
  try {
    produce();
  } catch (error) {
    if (error instanceof InvalidRecord) return error.reason;
    throw error;
  }
  return undefined;
}

describe('parseIsoTimestamp', () => {
  it('converts Z and ±hh:mm offsets to UTC', () => {
    expect(iso('2025-11-06T09:00:00Z')).toBe('2025-11-06T09:00:00.000Z');
    expect(iso('2025-11-06T09:00:00+00:00')).toBe('2025-11-06T09:00:00.000Z');
    expect(iso('2025-11-04T08:00:00.003+05:30')).toBe('2025-11-04T02:30:00.003Z');
    expect(iso('2025-11-05T16:00:00.000001-08:00')).toBe('2025-11-06T00:00:00.000Z');
    // An offset that moves the instant across a day, month and year boundary.
    expect(iso('2025-01-01T01:00:00+05:30')).toBe('2024-12-31T19:30:00.000Z');
    expect(iso('2024-12-31T20:00:00-08:00')).toBe('2025-01-01T04:00:00.000Z');
  });

  it('accepts 0 to 7 fractional digits and truncates to the millisecond, never rounding', () => {
    const expected = [
      '2025-11-06T08:59:59.000Z',
      '2025-11-06T08:59:59.900Z',
      '2025-11-06T08:59:59.990Z',
      '2025-11-06T08:59:59.999Z',
      '2025-11-06T08:59:59.999Z',
      '2025-11-06T08:59:59.999Z',
      '2025-11-06T08:59:59.999Z',
      '2025-11-06T08:59:59.999Z',
    ];
    for (let digits = 0; digits <= 7; digits++) {
      const fraction = digits === 0 ? '' : `.${'9'.repeat(digits)}`;
      expect(iso(`2025-11-06T08:59:59${fraction}+00:00`), `${digits} digits`).toBe(expected[digits]);
    }
    expect(iso('2025-11-06T09:00:00.1234567+00:00')).toBe('2025-11-06T09:00:00.123Z');
    expect(iso('2025-11-06T09:00:00.0009999Z')).toBe('2025-11-06T09:00:00.000Z');
    expect(iso('2025-11-06T09:04:10.5+00:00')).toBe('2025-11-06T09:04:10.500Z');
    // 23:59:59.9999999 on New Year's Eve stays in the old year.
    expect(iso('2025-12-31T23:59:59.9999999Z')).toBe('2025-12-31T23:59:59.999Z');
  });

  it('requires an explicit offset', () => {
    expect(iso('2025-11-06T09:00:00')).toBeUndefined();
    expect(iso('2025-11-06T09:00:00.123')).toBeUndefined();
  });

  it('rejects out-of-range fields', () => {
    for (const text of [
      '2025-13-01T00:00:00Z', // month 13
      '2025-00-01T00:00:00Z', // month 0
      '2025-01-00T00:00:00Z', // day 0
      '2025-01-32T00:00:00Z', // day 32
      '2025-04-31T00:00:00Z', // April has 30 days
      '2025-02-29T00:00:00Z', // 2025 is not a leap year
      '1900-02-29T00:00:00Z', // centuries are not leap years...
      '2025-11-06T24:00:00Z', // hour 24
      '2025-11-06T23:60:00Z', // minute 60
      '2025-11-06T23:59:60Z', // leap second
      '2025-11-06T09:00:00+15:00', // offset beyond ±14:00
      '2025-11-06T09:00:00+05:60', // offset minutes 60
    ]) {
      expect(iso(text), text).toBeUndefined();
    }
    expect(iso('2024-02-29T00:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    expect(iso('2000-02-29T00:00:00Z')).toBe('2000-02-29T00:00:00.000Z'); // ...unless divisible by 400
    expect(iso('2025-11-06T09:00:00+14:00')).toBe('2025-11-05T19:00:00.000Z');
  });

  it('rejects text that is not a timestamp', () => {
    for (const text of ['', 'yesterday', '2025-11-06', '2025-11-06T09:00Z', '06/11/2025 09:00:00Z', ' 2025-11-06T09:00:00Z', '2025-11-06T09:00:00Z ']) {
      expect(iso(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('keeps to the years .NET can hold, 1 to 9999, without mapping 0-99 to the 1900s', () => {
    const first = parseIsoTimestamp('0001-01-01T00:00:00Z');
    expect(first?.getUTCFullYear()).toBe(1);
    expect(first?.getUTCMonth()).toBe(0);
    expect(parseIsoTimestamp('0050-06-01T12:00:00Z')?.getUTCFullYear()).toBe(50);
    expect(iso('9999-12-31T23:59:59.9999999Z')).toBe('9999-12-31T23:59:59.999Z');
    expect(iso('0000-01-01T00:00:00Z')).toBeUndefined();
    expect(iso('10000-01-01T00:00:00Z')).toBeUndefined();
  });
});

describe('requireDate and optionalDate', () => {
  it('return UTC dates for timestamps', () => {
    expect(requireDate('2025-11-06T09:00:00.2+00:00', 'requestedAt').toISOString()).toBe('2025-11-06T09:00:00.200Z');
    expect(optionalDate('2025-11-06T09:00:00Z', 'completedAt')?.toISOString()).toBe('2025-11-06T09:00:00.000Z');
  });

  it('treat missing and null alike', () => {
    expect(optionalDate(undefined, 'completedAt')).toBeNull();
    expect(optionalDate(null, 'completedAt')).toBeNull();
    expect(reasonOf(() => requireDate(undefined, 'requestedAt'))).toBe('missing-field');
    expect(reasonOf(() => requireDate(null, 'requestedAt'))).toBe('missing-field');
  });

  it('reject values that are not ISO-8601 strings, naming the field and the value', () => {
    expect(reasonOf(() => requireDate(1762419600000, 'updatedAt'))).toBe('invalid-date');
    expect(reasonOf(() => optionalDate({}, 'updatedAt'))).toBe('invalid-date');
    expect(() => requireDate('yesterday', 'updatedAt')).toThrow(/"updatedAt".*"yesterday"/);
  });
});

describe('parseIsoTimestamp (hand parser) against the regex reference', () => {
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  /** Timestamp-like strings: valid ones, and ones with one part out of range or malformed. */
  const timestampLike = fc
    .record({
      year: fc.integer({ min: 0, max: 10_000 }),
      month: fc.integer({ min: 0, max: 13 }),
      day: fc.integer({ min: 0, max: 32 }),
      hour: fc.integer({ min: 0, max: 24 }),
      minute: fc.integer({ min: 0, max: 60 }),
      second: fc.integer({ min: 0, max: 60 }),
      separator: fc.constantFrom('T', 't', ' ', 'x', ''),
      fraction: fc.oneof(fc.constant(''), fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), minLength: 0, maxLength: 9 }).map((d) => `.${d}`), fc.constant(',123')),
      zone: fc.oneof(
        fc.constantFrom('Z', 'z', '', 'GMT', '+', '+1'),
        fc.record({ sign: fc.constantFrom('+', '-'), h: fc.integer({ min: 0, max: 15 }), m: fc.integer({ min: 0, max: 61 }), colon: fc.boolean() }).map(
          ({ sign, h, m, colon }) => `${sign}${pad(h, 2)}${colon ? ':' : ''}${pad(m, 2)}`,
        ),
      ),
    })
    .map((p) => `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}${p.separator}${pad(p.hour, 2)}:${pad(p.minute, 2)}:${pad(p.second, 2)}${p.fraction}${p.zone}`);

  it('agrees on every timestamp-like string (valid, out of range, malformed) and on arbitrary text', () => {
    fc.assert(
      fc.property(fc.oneof(timestampLike, fc.string({ maxLength: 40 })), (text) => {
        expect(parseIsoTimestamp(text)?.getTime()).toBe(parseIsoTimestampByRegex(text)?.getTime());
      }),
      { numRuns: 20_000 },
    );
  });
});
