import { InvalidRecord, describeValue } from './invalid-record.js';

// ISO-8601 extended form as the provider writes it: date, 'T', time, 0-7 fractional digits, Z or ±hh:mm.
// A space instead of 'T' and a ±hhmm offset are accepted too (seen in hand-edited files).
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,7}))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** .NET DateTime range: year 1 to 9999. BSON itself could hold more, the service could not. */
const MIN_YEAR = 1;
const MAX_YEAR = 9999;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Parses an ISO-8601 timestamp with an explicit offset into a UTC Date, truncated (not rounded)
 * to the millisecond. Returns undefined when the text is not such a timestamp.
 */
export function parseIsoTimestamp(text: string): Date | undefined {
  const match = ISO_TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zulu, sign, offH = '0', offM = '0'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (year < MIN_YEAR || year > MAX_YEAR) return undefined;
  if (month < 1 || month > 12) return undefined;
  const maxDay = month === 2 && !isLeapYear(year) ? 28 : (DAYS_IN_MONTH[month - 1] ?? 31);
  if (day < 1 || day > maxDay) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetHours = Number(offH);
  const offsetMinutes = Number(offM);
  // .NET offsets span -14:00 to +14:00.
  if (offsetMinutes > 59 || offsetHours * 60 + offsetMinutes > 14 * 60) return undefined;
  const millis = Number((fraction + '000').slice(0, 3));
  const offsetSign = zulu ? 0 : sign === '-' ? -1 : 1;
  const offsetMs = offsetSign * (offsetHours * 60 + offsetMinutes) * 60_000;
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear avoids that.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
  date.setUTCFullYear(year);
  return new Date(date.getTime() - offsetMs);
}

/** A required timestamp field. */
export function requireDate(value: unknown, field: string): Date {
  if (value === undefined || value === null) throw new InvalidRecord('missing-field', `"${field}" is missing`);
  return toDate(value, field);
}

/** A nullable timestamp field: missing and null both give null. */
export function optionalDate(value: unknown, field: string): Date | null {
  if (value === undefined || value === null) return null;
  return toDate(value, field);
}

function toDate(value: unknown, field: string): Date {
  if (typeof value !== 'string') {
    throw new InvalidRecord('invalid-date', `"${field}" is not a timestamp string (${describeValue(value)})`);
  }
  const date = parseIsoTimestamp(value);
  if (!date) {
    throw new InvalidRecord(
      'invalid-date',
      `"${field}" is not an ISO-8601 timestamp with offset in years 1-9999 (${describeValue(value)})`,
    );
  }
  return date;
}
