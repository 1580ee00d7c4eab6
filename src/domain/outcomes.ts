import type { CollectionRole } from './collection-roles.js';

/**
 * What happens to a source record, shared by every stage and command. A run returns these instead
 * of throwing halfway: every source record ends with exactly one outcome.
 */

/**
 * What happened to one record. `accepted`: rejected, but the operator reviewed that very record
 * and accepted it as not imported (`--accept-rejections`); it no longer fails the run.
 */
export type Outcome = 'inserted' | 'updated' | 'unchanged' | 'keptNewer' | 'conflict' | 'rejected' | 'accepted';
export const OUTCOMES: readonly Outcome[] = [
  'inserted',
  'updated',
  'unchanged',
  'keptNewer',
  'conflict',
  'rejected',
  'accepted',
];

export type OutcomeCounts = Record<Outcome, number>;

/**
 * Stable reason codes for rejected records (documented in the README; never renamed, only added).
 */
export type ReasonCode =
  | 'empty-file'
  | 'unreadable'
  | 'invalid-utf8'
  | 'invalid-json'
  | 'wrong-shape'
  | 'missing-field'
  | 'invalid-field'
  | 'invalid-date'
  | 'unknown-enum'
  | 'duplicate-key'
  | 'ambiguous-run-id'
  | 'run-id-mismatch'
  | 'too-deep'
  | 'line-too-long'
  | 'file-too-large'
  | 'document-too-large'
  | 'server-refused';

/** One rejected record: where it is, why, and how to fix it. */
export interface Rejection {
  collection: CollectionRole;
  /** Path relative to the source root, with `/` separators. */
  file: string;
  /** 1-based line for log files; absent for whole-file JSON documents. */
  line?: number;
  /** 0-based index of the element in an approvals array or a manifest's outputs. */
  element?: number;
  /** Byte offset of the record's first byte in the file, when known. */
  byteOffset?: number;
  reason: ReasonCode;
  message: string;
  /** What the operator can do about it. */
  hint: string;
  /** A bounded excerpt of the raw input, when it helps. */
  excerpt?: string;
  /**
   * SHA-256 of the rejected bytes (see rejection-acceptance.ts): with file and position, what
   * `--accept-rejections` matches, so an accepted record that changes is rejected again.
   */
  fingerprint: string;
  /** Set (in the --rejects file) when the rejection matched an accepted one. */
  accepted?: true;
}

/** A database document whose key matches but whose content differs, and which was left alone. */
export interface Conflict {
  collection: CollectionRole;
  key: string;
  file: string;
  line?: number;
  /** Top-level fields that differ. */
  fields: string[];
}

/** The kept-newer documents: the database copy is newer than the file, so the file was not applied. */
export interface KeptNewer {
  collection: CollectionRole;
  key: string;
  file: string;
}

export type WarningCode =
  | 'unknown-field'
  | 'unknown-artifact-status'
  | 'metadata-converted'
  | 'key-escaped'
  | 'empty-log-file'
  | 'orphan'
  | 'run-id-from-file-name'
  | 'server-feature-missing'
  | 'duplicate-run-id'
  | 'unicode-normalization'
  | 're-homed'
  | 'schema-adopted';

export interface WarningEntry {
  code: WarningCode;
  message: string;
  count: number;
}
