import type { ReasonCode } from '../domain/outcomes.js';

/** Default "what to do about it" text for each reason code. */
export const REASON_HINTS: Readonly<Record<ReasonCode, string>> = {
  'empty-file': 'The file holds no data. Restore it from a backup or delete it if the run never existed.',
  unreadable: 'Check that the path is a regular file the importer may read (permissions, broken link, directory).',
  'invalid-utf8': 'The file is not valid UTF-8. Re-encode it as UTF-8 or restore it from a backup.',
  'invalid-json': 'Fix the JSON (often a write cut short by a crash) or restore the file, then re-run.',
  'wrong-shape': 'The JSON is valid but not the expected kind of value. Fix or restore the file.',
  'missing-field': 'Add the missing field to the record, then re-run.',
  'invalid-field': 'Correct the field value to the documented type, then re-run.',
  'invalid-date': 'Write the timestamp in ISO-8601 with an offset (e.g. 2025-11-06T09:00:00Z), then re-run.',
  'unknown-enum': 'Use one of the documented names or numbers (see the enum table in the README).',
  'duplicate-key': 'Two records claim the same key. Remove or renumber the wrong one, then re-run.',
  'ambiguous-run-id':
    'Two runIds map to this file name. Rename the file to the run it belongs to, or give each line a "runId".',
  'run-id-mismatch': 'The record names a run that does not match its file. Move it to the right file.',
  'too-deep': 'The value nests deeper than MongoDB can store (100 levels). Flatten it in the source.',
  'line-too-long': 'The line is larger than --max-line-bytes. Split or repair it, or raise the limit.',
  'file-too-large': 'The file is larger than --max-file-bytes. Repair it, or raise the limit if it is genuine.',
  'document-too-large': 'The record is over MongoDB\'s 16 MiB document limit and cannot be stored. Trim it in the source.',
  'server-refused': 'The database refused the document (see the message, often schema validation). Fix the record or the validator.',
};

/**
 * Thrown inside the pure normalizers only, and always caught at their entry point, where it becomes
 * a rejection. It never escapes `normalize/`.
 */
export class InvalidRecord extends Error {
  constructor(
    readonly reason: ReasonCode,
    message: string,
  ) {
    super(message);
  }
}

/** A normalizer's answer for one record. */
export type Normalized<T> =
  | { ok: true; doc: T }
  | { ok: false; reason: ReasonCode; message: string };

export function normalizeSafely<T>(produce: () => T): Normalized<T> {
  try {
    return { ok: true, doc: produce() };
  } catch (error) {
    if (error instanceof InvalidRecord) return { ok: false, reason: error.reason, message: error.message };
    // A RangeError (e.g. call stack) on hostile input is still a record problem, not a crash.
    if (error instanceof RangeError) return { ok: false, reason: 'too-deep', message: error.message };
    throw error;
  }
}

/** Short, single-line rendering of a bad value for messages. */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
