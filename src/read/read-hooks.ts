import type { SourceFile } from '../domain/source-file.js';
import type { LogReadStart } from './read-log-file.js';

/**
 * Where a log file starts being read, when an earlier run already imported its beginning; `hash`
 * has already been fed the bytes before `startOffset` (the ledger checked them).
 */
export type ResumePoint = LogReadStart;

export interface ReadHooks {
  /**
   * Files to skip entirely (already done and unchanged). For log and approvals files
   * `attributedRunId` is the run the file resolves to now (null when ambiguous): a file whose
   * records went to another run last time must be read again.
   */
  skipFile?(file: SourceFile, attributedRunId?: string | null): boolean;
  /** The runId a skipped state file holds, when known without reading it (from the ledger). */
  runIdOfSkipped?(file: SourceFile): string | undefined;
  /** A resume point for a grown log file whose records go to `attributedRunId`, as last time. */
  resumeLog?(file: SourceFile, attributedRunId: string): Promise<ResumePoint | undefined>;
  /**
   * Whether `resumeLog` might give this file a resume point (cheap, no I/O): such files are read
   * in the main thread, the others may go to the `--workers` pool. Without it, a reader that has
   * `resumeLog` reads every log in the main thread.
   */
  mayResume?(file: SourceFile, attributedRunId: string): boolean;
  /**
   * A log or approvals file matches no state file and is about to be imported under its file-name
   * runId. Awaited before any of its records is handed over, so that whoever must later move
   * those records to their run (when the state file is readable again) knows of them.
   */
  orphanAttributed?(file: SourceFile, runId: string): Promise<void>;
  /**
   * Whether records of this run belong to this process (`--partition K/N`). Keyed by the run's
   * file stem (the sanitized runId), which every file of a run shares, so a file is never split.
   */
  inPartition?(runFileStem: string): boolean;
}
