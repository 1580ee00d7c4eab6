import type { Document } from 'mongodb';
import type { CollectionRole } from './collection-roles.js';
import type { SourceFile } from './source-file.js';
import type { PendingRecord } from './pending-record.js';

/** Where normalized records go: the database (import), a counter (plan), a comparer (verify). */
export interface RecordSink {
  /** Takes one batch of one collection. Awaiting it is the backpressure. */
  accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void>;
  /** Called when every record of a file has been handed to `accept` (not necessarily written). */
  fileHandedOver?(file: SourceFile, position: FilePosition): Promise<void>;
  /**
   * A point inside a log file where a later run could resume: every record before it has been
   * handed to `accept` (not necessarily written). Only offered while the file has no rejections.
   */
  logCheckpoint?(file: SourceFile, checkpoint: LogCheckpoint): void;
}

/**
 * Where a log file may be resumed: at `resumeOffset` / `resumeLine` (the start of the first line
 * not yet handed over), provided bytes [0, hashedTo) still have SHA-256 `sha256`. The hash runs
 * per read chunk, so `hashedTo` (a chunk end) may lie a little past `resumeOffset`.
 */
export interface LogCheckpoint {
  /** The run the file's records go to (a resume is valid only while they still do). */
  runId: string;
  resumeOffset: number;
  resumeLine: number;
  hashedTo: number;
  sha256: string;
}

/** How far a file was read: for logs, where the next read resumes. */
export interface FilePosition {
  endOffset: number;
  nextLine: number;
  /** Records handed over from this file in this run. */
  records: number;
  /** Records of this file that were rejected in this run. */
  rejected: number;
  /** SHA-256 of bytes [0, hashedTo ?? endOffset), when that whole range was hashed. */
  sha256?: string;
  /**
   * For logs: how far the hash reaches, past `endOffset` when the file ends in a line without its
   * line end (that line is read again next time, from `endOffset`).
   */
  hashedTo?: number;
  /**
   * For a state file: the runId it holds (lets a later run skip reading it). For a log or
   * approvals file: the run its records went to (a later run skips or resumes the file only
   * while it still goes to that run).
   */
  runId?: string;
}

