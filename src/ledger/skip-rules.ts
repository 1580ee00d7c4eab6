import type { SourceFile } from '../domain/source-file.js';
import type { LedgerFileEntry } from './ledger-types.js';

/** A file is skipped when the ledger saw it done, cleanly, with the same size, mtime and output options. */
export function isUnchangedAndDone(file: SourceFile, entry: LedgerFileEntry | undefined, optionsKey: string): boolean {
  return (
    entry !== undefined &&
    entry.status === 'done' &&
    entry.optionsKey === optionsKey &&
    entry.size === file.size &&
    entry.mtimeMs === file.mtimeMs
  );
}

/**
 * A log may resume where the last run stopped, provided its first bytes are still the ones
 * imported (the caller checks the hash): one that grew since it was imported cleanly (`done`),
 * or one a run was killed or stopped in the middle of (`partial`).
 */
export function logResumeCandidate(
  file: SourceFile,
  entry: LedgerFileEntry | undefined,
  optionsKey: string,
): LedgerFileEntry | undefined {
  if (!entry || entry.role !== 'logs' || entry.optionsKey !== optionsKey || entry.sha256 === null || entry.endOffset <= 0) return undefined;
  // A `done` log that ended in an unterminated line hashed past `endOffset` (that line is read again).
  if (entry.status === 'done') return file.size > entry.endOffset && file.size >= (entry.hashedTo ?? 0) ? entry : undefined;
  if (entry.status === 'partial') return file.size >= Math.max(entry.endOffset, entry.hashedTo ?? 0) ? entry : undefined;
  return undefined;
}
