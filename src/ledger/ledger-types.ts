import type { CollectionRole } from '../domain/collection-roles.js';
import type { OutcomeCounts } from '../domain/outcomes.js';

/**
 * What the ledger remembers of one source file. Status `done` means every record of the file was
 * written; `done-with-issues` files (rejections, conflicts, kept-newer records) are read again on every run so those keep
 * being reported; a `partial` log is read again from `endOffset` once its first bytes are checked;
 * anything else (no entry) is read again.
 */
export interface LedgerFileEntry {
  _id: string;
  kind: 'file';
  partition: string;
  role: CollectionRole;
  path: string;
  size: number;
  mtimeMs: number;
  /** SHA-256 of bytes [0, hashedTo ?? endOffset). */
  sha256: string | null;
  /** Where the next read of the file starts (logs), and its line number. */
  endOffset: number;
  nextLine: number;
  /** `partial` (logs only): killed or stopped in the middle; every line before `endOffset` was written. */
  status: 'done' | 'done-with-issues' | 'partial';
  /** How far `sha256` reaches: for `partial`, a read-chunk end at or past `endOffset`; for `done`, the file end when its last line had no line end yet. */
  hashedTo?: number | null;
  records: number;
  rejected: number;
  /** For a state file, the runId it holds: a later run that skips the file still knows the run. */
  runId?: string | null;
  /** Output options the records were written with; a change means the file must be written again. */
  optionsKey: string;
  sessionId: string;
  /**
   * When the entry was written. Entries read from the journals and digests keep the stored
   * milliseconds (a `Date` each cost 4.6 MB of live heap at 50,000 files); per-file documents of
   * earlier versions and new entries hold a `Date`. Nothing decides on it: it is for people.
   */
  updatedAt: Date | number;
}

/** One import run, as the ledger tells it. No secrets: the server is recorded redacted. */
export interface LedgerSession {
  _id: string;
  kind: 'session';
  sessionId: string;
  startedAt: Date;
  finishedAt: Date | null;
  toolVersion: string;
  host: string;
  pid: number;
  partition: string;
  source: string;
  options: Record<string, unknown>;
  outcome: 'running' | 'complete' | 'complete-with-issues' | 'interrupted' | 'failed';
  totals: OutcomeCounts | null;
}

/** Who is importing into this database right now; expires if its holder dies. */
export interface LedgerLease {
  _id: string;
  kind: 'lease';
  partition: string;
  sessionId: string;
  host: string;
  pid: number;
  acquiredAt: Date;
  expiresAt: Date;
}

/**
 * A log or approvals file whose records were written under its file-name runId because no state
 * file matched it then (an orphan). Kept until those records were moved to their run: a later
 * import that finds the file belongs to a run after all deletes the copies it wrote under the
 * file-name runId (only copies identical to what it wrote, and only once the run holds the same
 * records). Written before the first such record, so a kill can never leave copies unknown.
 */
export interface OrphanMarker {
  _id: string;
  kind: 'orphan';
  role: 'logs' | 'approvals';
  path: string;
  /** The file-name runId the records were written under. */
  runId: string;
  sessionId: string;
  updatedAt: Date;
}
