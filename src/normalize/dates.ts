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

const ZERO = 48;

/** The value of `count` ASCII digits at `at`, or -1 if any is not a digit. */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = text.charCodeAt(i) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Parses an ISO-8601 timestamp with an explicit offset into a UTC Date, truncated (not rounded)
 * to the millisecond. Returns undefined when the text is not such a timestamp. The grammar is
 * `ISO_TIMESTAMP`'s, read character by character: this runs once per log line, and the regex with
 * its capture array was a measurable share of the import's CPU (`parseIsoTimestampByRegex`, kept
 * as the reference the tests compare this with).
 */
export function parseIsoTimestamp(text: string): Date | undefined {
  const length = text.length;
  if (length < 20 || length > 35) return undefined;
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined; // - - : :
  const separator = text.charCodeAt(10);
  if (separator !== 84 && separator !== 116 && separator !== 32) return undefined; // T t space
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  let at = 19;
  let millis = 0;
  const mark = text.charCodeAt(at);
  if (mark === 46 || mark === 44) {
    // . or , then 1 to 7 digits; the first three are the milliseconds (truncated).
    const start = ++at;
    while (at < length && at - start < 8) {
      const digit = text.charCodeAt(at) - ZERO;
      if (digit < 0 || digit > 9) break;
      if (at - start < 3) millis = millis * 10 + digit;
      at++;
    }
    const count = at - start;
    if (count < 1 || count > 7) return undefined;
    for (let i = count; i < 3; i++) millis *= 10;
  }
  let offsetMinutesTotal = 0;
  const zone = text.charCodeAt(at);
  if (zone === 90 || zone === 122) {
    // Z z
    if (at + 1 !== length) return undefined;
  } else if (zone === 43 || zone === 45) {
    // + - then hh:mm or hhmm
    const offsetHours = digits(text, at + 1, 2);
    const colon = text.charCodeAt(at + 3) === 58 ? 1 : 0;
    const offsetMinutes = digits(text, at + 3 + colon, 2);
    if (offsetHours < 0 || offsetMinutes < 0 || at + 5 + colon !== length) return undefined;
    if (offsetMinutes > 59 || offsetHours * 60 + offsetMinutes > 14 * 60) return undefined;
    offsetMinutesTotal = (zone === 45 ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  } else {
    return undefined;
  }
  if (year < MIN_YEAR || year > MAX_YEAR) return undefined;
  if (month < 1 || month > 12) return undefined;
  const maxDay = month === 2 && !isLeapYear(year) ? 28 : (DAYS_IN_MONTH[month - 1] ?? 31);
  if (day < 1 || day > maxDay) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let time = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC maps years 0-99 to 1900-1999.
  if (year < 100) {
    const date = new Date(time);
    date.setUTCFullYear(year);
    time = date.getTime();
  }
  return new Date(time - offsetMinutesTotal * 60_000);
}

/** The regex reading of the same grammar: the reference `parseIsoTimestamp` is tested against. */
export function parseIsoTimestampByRegex(text: string): Date | undefined {
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
