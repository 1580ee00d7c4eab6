import type { CollectionRole } from '../../domain/collection-roles.js';
import type { ImportTally } from '../../domain/import-tally.js';
import type { ReasonCode } from '../../domain/outcomes.js';
import type { RecordOrigin } from '../../domain/pending-record.js';
import type { SourceFile } from '../../domain/source-file.js';
import { recordRejection } from '../read-log-file.js';

/**
 * Rejects a whole file. `fingerprint`: the file's SHA-256 when its bytes were read, else what
 * identifies it without them (see `withoutBytes`).
 */
export function rejectFile(tally: ImportTally, file: SourceFile, reason: ReasonCode, message: string, fingerprint: string, excerptText?: string): void {
  tally.reject(recordRejection(file.role, { file: file.relativePath }, { reason, message }, fingerprint, excerptText));
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
  tally.reject(recordRejection(role, origin, result, fingerprint, excerptText));
}
