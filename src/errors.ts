/**
 * The three error classes of the tool. Record-level problems are never thrown: they become
 * rejections in the report. Exit codes for these classes are decided in `cli/exit-codes.ts`.
 */

/** The command line or configuration is wrong; the user must change how they call the tool. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Stable codes for runtime failures, documented in the README. */
export type RuntimeErrorCode =
  | 'SOURCE_NOT_FOUND'
  | 'CONFIG_UNREADABLE'
  | 'DB_CONNECT_FAILED'
  | 'DB_AUTH_FAILED'
  | 'DRIVER_MODULE_MISSING'
  | 'DB_WRITE_FAILED'
  | 'DB_UNAVAILABLE'
  | 'LEASE_HELD'
  | 'LEASE_LOST'
  | 'SCHEMA_CONFLICT'
  | 'INTERRUPTED'
  /** The --rejects file could not be written; the import stopped and ended its session. */
  | 'OUTPUT_WRITE_FAILED'
  /** The verify --report file could not be written; the summary still went to stdout. */
  | 'REPORT_WRITE_FAILED';

/** Something outside the tool failed (database, file system); the message says what to do. */
export class BackfillRuntimeError extends Error {
  override readonly name = 'BackfillRuntimeError';
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A bug in the tool: an invariant did not hold. */
export class InternalError extends Error {
  override readonly name = 'InternalError';
}
