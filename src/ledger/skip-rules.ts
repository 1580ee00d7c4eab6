import type { SourceFile } from '../scan/find-source-files.js';
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
 * A log that grew since it was imported cleanly may resume where the last run stopped, provided
 * its first `endOffset` bytes are still the ones imported (the caller checks the hash).
 */
export function growthResumeCandidate(
  file: SourceFile,
  entry: LedgerFileEntry | undefined,
  optionsKey: string,
): LedgerFileEntry | undefined {
  if (!entry || entry.role !== 'logs' || entry.status !== 'done' || entry.optionsKey !== optionsKey) return undefined;
  if (entry.sha256 === null || entry.endOffset <= 0 || file.size <= entry.endOffset) return undefined;
  return entry;
}
