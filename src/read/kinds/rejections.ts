import type { CollectionRole } from '../../domain/collection-roles.js';
import type { ImportTally } from '../../domain/import-tally.js';
import type { ReasonCode } from '../../domain/outcomes.js';
import type { RecordOrigin } from '../../domain/pending-record.js';
import type { SourceFile } from '../../domain/source-file.js';
import { REASON_HINTS } from '../../normalize/invalid-record.js';

/**
 * Rejects a whole file. `fingerprint`: the file's SHA-256 when its bytes were read, else what
 * identifies it without them (see `withoutBytes`).
 */
export function rejectFile(tally: ImportTally, file: SourceFile, reason: ReasonCode, message: string, fingerprint: string, excerptText?: string): void {
  tally.reject({
    collection: file.role,
    file: file.relativePath,
    reason,
    message,
    hint: REASON_HINTS[reason],
    ...(excerptText === undefined ? {} : { excerpt: excerptText }),
    fingerprint,
  });
}

/** Rejects one record; `fingerprint` covers its bytes (a line's text, an element's JSON, a file). */
export function rejectRecord(
  tally: ImportTally,
  role: CollectionRole,
  origin: RecordOrigin & { element?: number },
  result: { reason: ReasonCode; message: string },
  fingerprint: string,
  excerptText?: string,
): void {
  tally.reject({
    collection: role,
    ...origin,
    reason: result.reason,
    message: result.message,
    hint: REASON_HINTS[result.reason],
    ...(excerptText === undefined ? {} : { excerpt: excerptText }),
    fingerprint,
  });
}
