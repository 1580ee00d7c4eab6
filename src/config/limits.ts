import { UsageError } from '../errors.js';

/**
 * The allowed range of every numeric setting, in one table (the README's options table cites it).
 * A value outside its range, or one that is not a single whole number, is a usage error: no timer,
 * date or buffer is ever computed from an unchecked number.
 */
export interface NumericLimit {
  /** The command-line flag, without dashes. */
  flag: string;
  /** Where a config file may set it (`TaskRunnerBackfill:<key>`), if it can. */
  configKey?: string;
  min: number;
  max: number;
  unit?: string;
}

const MiB = 1024 * 1024;

export const NUMERIC_LIMITS = Object.freeze({
  /** MongoDB's maxWriteBatchSize: one write command holds at most 100,000 operations. */
  batchSize: { flag: 'batch-size', configKey: 'BatchSize', min: 1, max: 100_000 },
  /** MongoDB's 16 MiB BSON limit: larger batches are split by the driver anyway, and each costs memory times --concurrency. */
  batchBytes: { flag: 'batch-bytes', configKey: 'BatchBytes', min: 1, max: 16 * MiB, unit: 'bytes' },
  /** Each batch in flight holds up to --batch-bytes; 64 x 16 MiB is already 1 GiB. */
  concurrency: { flag: 'concurrency', configKey: 'Concurrency', min: 1, max: 64 },
  /** State, approvals and manifest files are parsed whole; V8 cannot hold a string of 512 MiB. */
  maxFileBytes: { flag: 'max-file-bytes', configKey: 'MaxFileBytes', min: 1, max: 256 * MiB, unit: 'bytes' },
  /**
   * A log line is held whole and becomes one document of at most 16 MiB; JSON's densest escape
   * (`\u0000`) is 6 bytes for 1, so no longer line can fit.
   */
  maxLineBytes: { flag: 'max-line-bytes', configKey: 'MaxLineBytes', min: 1, max: 96 * MiB, unit: 'bytes' },
  /** MongoDB stores expireAfterSeconds as a 32-bit integer: 24,855 days is the most that fits. */
  logsRetentionDays: { flag: 'logs-retention-days', configKey: 'LogsRetentionDays', min: 1, max: 24_855, unit: 'days' },
  /**
   * Below 5 s a renewal (every third of the lifetime) can miss under ordinary load; above a day an
   * importer that died on another machine blocks the next one for longer than anyone waits.
   */
  leaseTtlSeconds: { flag: 'lease-ttl-seconds', min: 5, max: 86_400, unit: 'seconds' },
  /**
   * Worker threads reading logs (0: the main thread). Each holds a few parts of a file ahead of
   * the writer; more than the cores only adds memory.
   */
  workers: { flag: 'workers', configKey: 'Workers', min: 0, max: 64 },
  /** A sample that large is the whole source: verify without --sample instead. */
  sample: { flag: 'sample', min: 1, max: 1_000_000, unit: 'runs' },
} satisfies Record<string, NumericLimit>);

export type NumericSetting = keyof typeof NUMERIC_LIMITS;

/**
 * Checks one numeric setting and returns it. Accepts a number, or a string of digits (config files
 * may quote numbers); refuses NaN, fractions, negatives, values out of range and arrays (a flag
 * given twice). The message names the flag, the config key and the range on one line.
 */
export function checkedSetting(setting: NumericSetting, value: unknown): number {
  const limit: NumericLimit = NUMERIC_LIMITS[setting];
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number === 'number' && Number.isSafeInteger(number) && number >= limit.min && number <= limit.max) return number;
  throw new UsageError(`${describeSetting(limit)} must be one whole number from ${formatNumber(limit.min)} to ${formatNumber(limit.max)}${limit.unit ? ` ${limit.unit}` : ''} (got ${describeValue(value)})`);
}

/** `--lease-ttl-seconds`: whole seconds from 5 to 86,400. Returns the seconds. */
export function validateLeaseTtlSeconds(seconds: unknown): number {
  return checkedSetting('leaseTtlSeconds', seconds);
}

/**
 * The same range for the API's `leaseTtlMs` (milliseconds: a whole number from 5,000 to
 * 86,400,000). Returns the milliseconds.
 */
export function validateLeaseTtlMs(milliseconds: unknown): number {
  const { min, max } = NUMERIC_LIMITS.leaseTtlSeconds;
  if (typeof milliseconds === 'number' && Number.isSafeInteger(milliseconds) && milliseconds >= min * 1000 && milliseconds <= max * 1000) return milliseconds;
  throw new UsageError(`leaseTtlMs must be one whole number from ${formatNumber(min * 1000)} to ${formatNumber(max * 1000)} milliseconds (got ${describeValue(milliseconds)})`);
}

/** `1 to 100,000` (for --help). */
export function rangeText(setting: NumericSetting): string {
  const limit: NumericLimit = NUMERIC_LIMITS[setting];
  return `${formatNumber(limit.min)} to ${formatNumber(limit.max)}${limit.unit ? ` ${limit.unit}` : ''}`;
}

function describeSetting(limit: NumericLimit): string {
  return limit.configKey ? `--${limit.flag} (TaskRunnerBackfill:${limit.configKey})` : `--${limit.flag}`;
}

function formatNumber(value: number): string {
  return value.toLocaleString('en-US');
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `${value.length} values: ${value.map((item) => describeValue(item)).join(', ')}; give it once`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'something that is not a number' : String(value);
  if (value === undefined || value === null) return 'no value';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- JSON.stringify gives undefined only for undefined, functions and symbols, which String() prints
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}
