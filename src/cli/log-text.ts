import { printable } from '../report/printable.js';

/** pino's numeric levels and the labels the text format shows. */
const LEVELS: ReadonlyMap<number, string> = new Map([
  [10, 'TRACE'],
  [20, 'DEBUG'],
  [30, 'INFO'],
  [40, 'WARN'],
  [50, 'ERROR'],
  [60, 'FATAL'],
]);

/** ANSI colors for the level label only (yellow warnings, red errors), when color is on. */
const LEVEL_COLORS: ReadonlyMap<number, string> = new Map([
  [10, '\u001b[90m'],
  [20, '\u001b[90m'],
  [40, '\u001b[33m'],
  [50, '\u001b[31m'],
  [60, '\u001b[31m'],
]);
const RESET = '\u001b[0m';

/** Fields every record carries that say nothing to a person at a terminal. */
const HIDDEN_FIELDS = new Set(['level', 'time', 'msg', 'tool', 'pid', 'hostname', 'v']);

export interface LogTextOptions {
  /** Color the level label (a terminal that has not asked for NO_COLOR). */
  color: boolean;
}

/**
 * One pino JSON record as one readable line: `12:04:05 WARN  message key=value key=value`.
 * Local time of day (the operator's clock), the level, the message, then the record's own fields
 * in their order; strings are shown bare unless they hold a space, `=` or a quote (then JSON-quoted),
 * objects as compact JSON. Every piece passes through `printable`, so a NUL, ESC, CR, BEL or bidi
 * override from a file name or an excerpt never reaches the terminal raw, and the line stays one
 * line. A record that is not JSON (never expected) is shown escaped as it came.
 */
export function formatLogRecord(jsonLine: string, options: LogTextOptions): string {
  let record: unknown;
  try {
    record = JSON.parse(jsonLine);
  } catch {
    return printable(jsonLine.replace(/\n$/, ''));
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return printable(jsonLine.replace(/\n$/, ''));
  const fields = record as Record<string, unknown>;
  const level = typeof fields.level === 'number' ? fields.level : 30;
  const label = (LEVELS.get(level) ?? `L${level}`).padEnd(5);
  const color = options.color ? LEVEL_COLORS.get(level) : undefined;
  const parts = [clock(fields.time), color ? `${color}${label}${RESET}` : label];
  if (typeof fields.msg === 'string' && fields.msg.length > 0) parts.push(printable(fields.msg));
  for (const [key, value] of Object.entries(fields)) {
    if (HIDDEN_FIELDS.has(key) || value === undefined) continue;
    parts.push(`${printable(key)}=${fieldValue(value)}`);
  }
  return parts.join(' ');
}

function clock(time: unknown): string {
  const date = typeof time === 'number' ? new Date(time) : new Date();
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return printable(/^[^\s="']+$/u.test(value) ? value : JSON.stringify(value));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- JSON.stringify gives undefined only for undefined, functions and symbols, which String() prints
  return printable(JSON.stringify(value) ?? String(value));
}
