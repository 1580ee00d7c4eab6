import { requireDate } from './dates.js';
import { deterministicObjectId } from './deterministic-id.js';
import type { LogDocument, LogLevel } from './documents.js';
import {
  RecordFields,
  knownFieldSet,
  optionalString,
  requireObject,
  requireString,
  isPlainObject,
} from './fields.js';
import { InvalidRecord, describeValue, normalizeSafely, type Normalized } from './invalid-record.js';
import type { NormalizeContext } from './normalize-context.js';
import { MAX_BSON_DEPTH, assertDepthWithin, canonicalJson, escapeFieldName } from './opaque-values.js';
import { runIdToFileStem } from './run-id-file-names.js';

const LOG_FIELDS = knownFieldSet([
  'timestamp', 'level', 'eventType', 'message', 'stepId', 'metadata', 'sequence', 'runId',
]);

/** Accepted spellings of the five levels, compared case-insensitively; .NET's long names included. */
const LEVEL_ALIASES: ReadonlyMap<string, LogLevel> = new Map([
  ['trace', 'trace'],
  ['debug', 'debug'],
  ['info', 'info'],
  ['information', 'info'],
  ['warn', 'warn'],
  ['warning', 'warn'],
  ['error', 'error'],
]);

export interface LogLineInput {
  /** The parsed JSON of one line. */
  json: unknown;
  /** runId resolved from the file name. */
  runId: string;
  /** The file name without extension: a line's own runId must map to it. */
  fileStem: string;
  /** 1-based physical line number, counting blank and bad lines. */
  lineNumber: number;
}

/** Turns one log line into a `pack_run_logs` document or a rejection. */
export function normalizeLogLine(input: LogLineInput, context: NormalizeContext): Normalized<LogDocument> {
  return normalizeSafely(() => buildLogDocument(input, context));
}

/** The names a log line has when written as the provider writes it (camelCase). */
const CANONICAL_LOG_FIELDS: ReadonlySet<string> = new Set(['timestamp', 'level', 'eventType', 'message', 'stepId', 'metadata', 'sequence', 'runId']);

/**
 * The fields of a line written with exactly the canonical names read directly, without the
 * case-insensitive index (a Map per line was a measurable share of the import's CPU); any other
 * line (PascalCase, unknown fields, names that differ only in case) goes through RecordFields.
 * Both read `null` as missing.
 */
class CanonicalFields {
  constructor(private readonly source: Record<string, unknown>) {}

  static of(source: Record<string, unknown>): CanonicalFields | undefined {
    for (const name in source) if (!CANONICAL_LOG_FIELDS.has(name)) return undefined;
    return new CanonicalFields(source);
  }

  get(name: string): unknown {
    // No own-property check (it was a fifth of this file's time per line): `of` saw that every key
    // is a canonical name, and none of those names exists on Object.prototype, which nothing here
    // writes to (keys from files live in Maps or as own data properties).
    const value = this.source[name];
    return value === null ? undefined : value;
  }

  unknownNames(): string[] {
    return [];
  }
}

function buildLogDocument(input: LogLineInput, context: NormalizeContext): LogDocument {
  const json = requireObject(input.json, 'the log line');
  const fields = CanonicalFields.of(json) ?? new RecordFields(json);
  const runId = lineRunId(fields.get('runId'), input);
  const sequence = lineSequence(fields.get('sequence'), input.lineNumber);
  const timestamp = requireDate(fields.get('timestamp'), 'timestamp');
  const document: LogDocument = {
    _id: deterministicObjectId('pack_run_logs', [runId, sequence.toString()], timestamp),
    runId,
    sequence,
    timestamp,
    level: logLevel(fields.get('level')),
    eventType: requireString(fields.get('eventType'), 'eventType'),
    message: requireString(fields.get('message'), 'message'),
  };
  const stepId = optionalString(fields.get('stepId'), 'stepId');
  if (stepId !== null) document.stepId = stepId;
  const metadata = fields.get('metadata');
  if (metadata !== undefined) document.metadata = stringOnlyMetadata(metadata, context);
  for (const name of fields.unknownNames(LOG_FIELDS)) context.warn('unknown-field', `log line field "${name}"`);
  return document;
}

/** A line may name its run; it must then be a run whose file name is this file's. */
function lineRunId(value: unknown, input: LogLineInput): string {
  if (value === undefined) return input.runId;
  const runId = requireString(value, 'runId');
  if (runId === input.runId) return runId;
  if (runId.length > 0 && runIdToFileStem(runId) === input.fileStem) return runId;
  throw new InvalidRecord(
    'run-id-mismatch',
    `line names run ${describeValue(runId)} but the file belongs to ${describeValue(input.runId)}`,
  );
}

/** The line's own `sequence` when present, else its physical line number. */
function lineSequence(value: unknown, lineNumber: number): bigint {
  if (value === undefined) return BigInt(lineNumber);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidRecord(
      'invalid-field',
      `"sequence" is not a whole number from 0 to 2^53 (${describeValue(value)})`,
    );
  }
  return BigInt(value);
}

function logLevel(value: unknown): LogLevel {
  if (value === undefined) throw new InvalidRecord('missing-field', '"level" is missing');
  // As written by the provider first, without the trimmed and lower-cased copies.
  const level = typeof value === 'string' ? (LEVEL_ALIASES.get(value) ?? LEVEL_ALIASES.get(value.trim().toLowerCase())) : undefined;
  if (!level) {
    throw new InvalidRecord(
      'unknown-enum',
      `"level" has unknown value ${describeValue(value)}; expected trace, debug, info, warn or error`,
    );
  }
  return level;
}

/**
 * The spec says metadata holds string values only: numbers and booleans become their string form,
 * objects and arrays canonical JSON (keys sorted), nulls are dropped. Each conversion is counted.
 */
function stringOnlyMetadata(value: unknown, context: NormalizeContext): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new InvalidRecord('invalid-field', `"metadata" is not an object (${describeValue(value)})`);
  }
  if (isPlainStringMap(value)) return value;
  // metadata sits at depth 1 of the log document; its nested values become text.
  assertDepthWithin(value, MAX_BSON_DEPTH, 'metadata');
  const entries: Array<[string, string]> = [];
  for (const [name, item] of Object.entries(value)) {
    const key = escapeFieldName(name);
    if (key !== name) context.warn('key-escaped', `metadata key ${JSON.stringify(name)}`);
    if (item === null) {
      context.warn('metadata-converted', 'null metadata value dropped');
    } else if (typeof item === 'string') {
      entries.push([key, item]);
    } else if (typeof item === 'number' || typeof item === 'boolean') {
      context.warn('metadata-converted', `${typeof item} metadata value written as text`);
      entries.push([key, String(item)]);
    } else {
      context.warn('metadata-converted', `${Array.isArray(item) ? 'array' : 'object'} metadata value written as JSON text`);
      entries.push([key, canonicalJson(item)]);
    }
  }
  return Object.fromEntries(entries);
}

/** Keys that need no escaping (no `.`, `%`, NUL, no leading `$`). */
const PLAIN_KEY = /^[^.%\u0000$][^.%\u0000]*$|^$/;

/**
 * Metadata as the provider writes it: string values under plain keys. It is stored as parsed (a
 * JSON.parse result of our own, with its keys as own data properties), with nothing to convert or
 * count; anything else takes the converting path.
 */
function isPlainStringMap(value: Record<string, unknown>): value is Record<string, string> {
  for (const name in value) {
    if (typeof value[name] !== 'string' || !PLAIN_KEY.test(name)) return false;
  }
  return true;
}
