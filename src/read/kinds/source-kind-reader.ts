import type { Document } from 'mongodb';
import type { CollectionRole } from '../../domain/collection-roles.js';
import type { ImportTally } from '../../domain/import-tally.js';
import type { PendingRecord } from '../../domain/pending-record.js';
import type { FilePosition, LogCheckpoint } from '../../domain/record-sink.js';
import type { SourceFile } from '../../domain/source-file.js';
import type { NormalizeContext } from '../../normalize/normalize-context.js';
import type { RunIdIndex } from '../../normalize/run-id-file-names.js';
import type { SourceInventory } from '../../scan/find-source-files.js';
import type { ReadHooks } from '../read-hooks.js';
import type { SourceReadOptions } from '../source-options.js';

/**
 * How one kind of source file (state files, approvals, manifests, logs) is read. `readSourceRecords`
 * drives every kind the same way: for each file, in inventory order, `decide`, then `prepare`
 * (up to `lookAhead` files early), then `read` when its turn comes; it buffers the records, counts
 * the file's rejections, hands the file over and, at the end of the kind, flushes its collection.
 * A new source kind is one more reader in `KIND_READERS` (read-source-records.ts).
 */
export interface SourceKindReader<Plan> {
  /** The collection the records go to (and the buffer they wait in before it). */
  readonly role: CollectionRole;
  /**
   * How many files are decided and prepared ahead of the one being read: 0 decides each file
   * just before reading it. The logs reader keeps a `--workers` pool busy this way.
   */
  readonly lookAhead: number;
  /** This kind's files, in the order their records are handed over. */
  files(inventory: SourceInventory): readonly SourceFile[];
  /**
   * Whether this process reads the file (the ledger, the partition by file name) and what the
   * read needs to know (e.g. the run the file is attributed to). Called once per file, in file
   * order, so it may note what it learns (the runs reader notes a skipped state file's runId);
   * it calls the hooks (`skipFile`, `inPartition`) but reads no file and rejects nothing.
   */
  decide(file: SourceFile): FileDecision<Plan>;
  /**
   * Starts reading early, when a read can run ahead of its turn (a worker thread); called right
   * after a `read` decision. The plan it returns is the one `read` gets. Absent: the plan as decided.
   */
  prepare?(file: SourceFile, plan: Plan): Plan;
  /**
   * Reads one file when its turn comes: records to `out` (awaiting it is the backpressure),
   * rejections and warnings to the tally. Returns where the file ended, its `rejected` left at 0
   * (the driver counts the tally's rejections during the read); or undefined when reading showed
   * the file belongs to another partition (a state file or manifest names its run inside), and
   * then nothing of it was reported and it is not handed over.
   */
  read(file: SourceFile, plan: Plan, out: RecordOutlet): Promise<FilePosition | undefined>;
  /** Releases what the reader holds (worker threads); called when its kind ends, also by an error. */
  close?(): Promise<void>;
}

/** What this process does with one file, decided before reading it. */
export type FileDecision<Plan> =
  | { action: 'read'; plan: Plan }
  /** Done and unchanged since the last import (`hooks.skipFile`): not read, not handed over. */
  | { action: 'skip' }
  /** Another partition's, known from the file's name (`hooks.inPartition`): not read at all. */
  | { action: 'other-partition' };

/** Where a reader puts one file's records: the driver's batch buffer for the reader's collection. */
export interface RecordOutlet {
  /**
   * Buffers a record (`approximateBytes` counts toward the batch's byte limit; 512 when absent).
   * Returns a promise only when the record filled a batch: await it (the backpressure).
   */
  add(record: PendingRecord<Document>, approximateBytes?: number): Promise<void> | undefined;
  /** A point where this log file may be resumed; passed on once the records before it went to the sink. */
  checkpoint(checkpoint: LogCheckpoint): void;
}

/** What every reader is made with; one per `readSourceRecords` call, shared by the kinds. */
export interface KindReaderContext {
  options: SourceReadOptions;
  /** Warnings go to the tally. */
  normalize: NormalizeContext;
  tally: ImportTally;
  hooks: ReadHooks;
  /** Filled by the runs reader, which goes first; the others attribute their files with it. */
  runIds: RunIdIndex;
}

/** Builds one kind's reader when its turn comes (the logs reader starts its worker pool then). */
export type KindReaderFactory<Plan> = (context: KindReaderContext) => SourceKindReader<Plan>;

/** Whether a run (by its file stem) is this process's under `--partition`; all are without it. */
export function inPartition(hooks: ReadHooks, runFileStem: string): boolean {
  return hooks.inPartition?.(runFileStem) ?? true;
}
