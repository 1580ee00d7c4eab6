/** Where a record came from, for every outcome that names it. */
export interface RecordOrigin {
  /** Source-relative path. */
  file: string;
  line?: number;
  byteOffset?: number;
}

/** A normalized document on its way to the database. */
export interface PendingRecord<T> {
  doc: T;
  origin: RecordOrigin;
  /**
   * A log line an earlier run of this import already sent, from the very same bytes (the ledger's
   * hash of the file up to there still matches): if its key exists, it exists as this tool wrote
   * it, so it is counted unchanged without reading it back (see README, "Resuming").
   */
  resent?: true;
}
