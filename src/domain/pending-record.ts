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
}
