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
  if (!entry || entry.role !== 'logs' || entry.optionsKey !== optionsKey) return undefined;
  // A `done` log that ended in an unterminated line hashed past `endOffset` (that line is read again).
  if (entry.status === 'done') return entry.sha256 && entry.endOffset > 0 && file.size > entry.endOffset && file.size >= (entry.hashedTo ?? 0) ? entry : undefined;
  if (entry.status !== 'partial') return undefined;
  // A partial entry may hold a safe checkpoint (resume there), what was sent (trust it), or both.
  const checkpoint = entry.sha256 !== null && entry.endOffset > 0 && file.size >= Math.max(entry.endOffset, entry.hashedTo ?? 0);
  return checkpoint || wasSentAsItIs(file, entry) ? entry : undefined;
}

/** A run started sending this log's entries while the file was exactly as it is now (size and mtime). */
export function wasSentAsItIs(file: Pick<SourceFile, 'size' | 'mtimeMs'>, entry: LedgerFileEntry): boolean {
  return entry.status === 'partial' && entry.sentSize === file.size && entry.sentMtimeMs === file.mtimeMs;
}
