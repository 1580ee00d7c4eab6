import type { EnumStyle } from '../normalize/enums.js';
import type { SourceGlobs } from '../scan/find-source-files.js';

/** How the source is read and normalized; shared by import, plan and verify so all read alike. */
export interface SourceReadOptions {
  /** Absolute path of the source root. */
  source: string;
  globs: SourceGlobs;
  enumStyle: EnumStyle;
  /** Records per write batch. */
  batchSize: number;
  /** Approximate bytes per write batch (kept well under the driver's 16 MiB command size). */
  batchBytes: number;
  /** Largest whole-document JSON file read (state, approvals, manifest). */
  maxFileBytes: number;
  /** Largest log line kept; longer lines are rejected without being held in memory. */
  maxLineBytes: number;
  /**
   * Worker threads that read and normalize log files (`--workers`); 0 or absent: the main thread
   * does. Records are handed over in the same order either way.
   */
  workers?: number;
}
