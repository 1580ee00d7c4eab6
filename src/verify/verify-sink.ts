import type { Collection, Db, Document, Filter } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import { RunIdIndex } from '../normalize/run-id-file-names.js';
import type { FilePosition, RecordSink } from '../pipeline/read-source-records.js';
import type { CollectionRole, Rejection } from '../report/types.js';
import { fileStem, parentFolderName, type SourceFile } from '../scan/find-source-files.js';
import type { PendingRecord } from '../write/pending-record.js';
import { classifyDocument } from './classify-document.js';
import type { RunSelection } from './run-selection.js';
import { VERIFY_SPECS, keyWithinRun, runIdOf } from './verify-keys.js';
import type { VerifyTally } from './verify-tally.js';

/** Read options for every query: Int64 reads back as bigint, as the importer wrote it. */
export const READ_OPTIONS = Object.freeze({ useBigInt64: true });

/** How the extra documents of one (collection, run) are known once the source is read. */
export type ExtrasState = 'exact' | 'counted' | 'none';

type KeyedRole = Exclude<CollectionRole, 'runs'>;
const KEYED_ROLES: readonly KeyedRole[] = ['logs', 'approvals', 'artifacts'];

/**
 * The verify `RecordSink`: it receives exactly the batches `import` would write and compares each
 * record with the database document of the same unique key. It only ever reads (`find`), so it
 * never creates a collection.
 *
 * Extra documents (in the database, not in the source) are found file by file: when a log,
 * approvals or manifest file has been handed over (all its records accepted), the keys of each of
 * its runs are streamed from the database (projection on the key only) and checked against the
 * keys that file held. Memory is one file's keys (one run's, in the provider's layout). A run whose records of one collection come from several files (custom
 * globs) gets its extras counted from totals at the end instead (`extrasState` = `counted`).
 */
export class VerifySink implements RecordSink {
  /** Every runId the source holds (in scope or not), so other runs are not mistaken for extra runs. */
  readonly sourceRunIds = new Set<string>();
  /** The same file-name-to-run index the reader builds, for attributing rejections at the end. */
  readonly runIndex = new RunIdIndex();
  private readonly exact = new Map<KeyedRole, Set<string>>(KEYED_ROLES.map((role) => [role, new Set()]));
  private readonly counted = new Map<KeyedRole, Set<string>>(KEYED_ROLES.map((role) => [role, new Set()]));
  /**
   * Files whose records arrived and that were not handed over yet: the keys they hold per run.
   * The reader hands a file over once its last batch was accepted, so this is about one batch.
   */
  private readonly openFiles = new Map<string, { received: number; keys: Map<string, Set<string>> }>();

  constructor(
    private readonly db: Db,
    private readonly collections: CollectionNames,
    private readonly tally: VerifyTally,
    private readonly selection: RunSelection,
  ) {}

  async accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void> {
    const byRun = new Map<string, PendingRecord<Document>[]>();
    for (const record of batch) {
      const runId = runIdOf(role, record.doc);
      this.sourceRunIds.add(runId);
      if (role === 'runs') this.runIndex.add(runId);
      else this.noteKey(role, runId, record);
      if (!this.selection.includes(runId)) continue;
      let records = byRun.get(runId);
      if (!records) byRun.set(runId, (records = []));
      records.push(record);
    }
    if (byRun.size === 0) return;
    if (role === 'runs') {
      await this.compareRuns([...byRun.values()].flat());
      return;
    }
    for (const [runId, records] of byRun) await this.compareRunRecords(role, runId, records);
  }

  /** A file is complete: find the database documents of its runs that the file does not hold. */
  async fileHandedOver(file: SourceFile, position: FilePosition): Promise<void> {
    if (file.role === 'runs') return;
    const open = this.openFiles.get(file.relativePath);
    if (!open) return;
    this.openFiles.delete(file.relativePath);
    const exact = this.exact.get(file.role) as Set<string>;
    const counted = this.counted.get(file.role) as Set<string>;
    for (const [runId, keys] of open.keys) {
      // Not all records seen, or a run fed by several files: its extras are counted from totals.
      if (open.received !== position.records || exact.has(runId) || counted.has(runId)) {
        exact.delete(runId);
        counted.add(runId);
        continue;
      }
      await this.streamExtras(file.role, runId, keys);
      exact.add(runId);
    }
  }

  /** Where a rejection belongs: the run its file name (artifact folder name) resolves to, at the end. */
  noteRejection(rejection: Rejection): void {
    const attribution = rejection.collection === 'artifacts' ? parentFolderName(rejection.file) : fileStem(rejection.file);
    this.tally.rejection(attribution, rejection);
  }

  extrasState(role: KeyedRole, runId: string): ExtrasState {
    if ((this.exact.get(role) as Set<string>).has(runId)) return 'exact';
    if ((this.counted.get(role) as Set<string>).has(runId)) return 'counted';
    // Records compared but their file never reported complete (a reader without file hooks).
    return this.tally.has(runId) && this.tally.counts(runId, role).expected > 0 ? 'counted' : 'none';
  }

  private noteKey(role: KeyedRole, runId: string, record: PendingRecord<Document>): void {
    let open = this.openFiles.get(record.origin.file);
    if (!open) this.openFiles.set(record.origin.file, (open = { received: 0, keys: new Map() }));
    open.received += 1;
    if (!this.selection.includes(runId)) return;
    let keys = open.keys.get(runId);
    if (!keys) open.keys.set(runId, (keys = new Set()));
    keys.add(keyWithinRun(role, record.doc));
  }

  private collection(role: CollectionRole): Collection<Document> {
    return this.db.collection(this.collections[role]);
  }

  private async compareRuns(records: readonly PendingRecord<Document>[]): Promise<void> {
    const spec = VERIFY_SPECS.runs;
    const ids = [...new Set(records.map((record) => runIdOf('runs', record.doc)))];
    const stored = new Map<string, Document>();
    for await (const doc of this.collection('runs').find({ _id: { $in: ids } } as unknown as Filter<Document>, READ_OPTIONS)) {
      stored.set(String(doc._id), doc);
    }
    for (const record of records) {
      const runId = runIdOf('runs', record.doc);
      this.tally.verdict('runs', runId, runId, record.origin, classifyDocument(spec, record.doc, stored.get(runId)));
    }
  }

  private async compareRunRecords(role: KeyedRole, runId: string, records: readonly PendingRecord<Document>[]): Promise<void> {
    const spec = VERIFY_SPECS[role];
    const keyValues = records.map((record) => record.doc[spec.keyField] as unknown);
    const stored = new Map<string, Document>();
    const filter = { runId, [spec.keyField]: { $in: keyValues } } as Filter<Document>;
    for await (const doc of this.collection(role).find(filter, READ_OPTIONS)) stored.set(keyWithinRun(role, doc), doc);
    for (const record of records) {
      const key = keyWithinRun(role, record.doc);
      this.tally.verdict(role, runId, key, record.origin, classifyDocument(spec, record.doc, stored.get(key)));
    }
  }

  /** Streams the run's keys (projection on the key field only) and counts the ones not expected. */
  private async streamExtras(role: KeyedRole, runId: string, expected: ReadonlySet<string>): Promise<void> {
    const keyField = VERIFY_SPECS[role].keyField;
    const cursor = this.collection(role).find({ runId } as Filter<Document>, {
      ...READ_OPTIONS,
      projection: { [keyField]: 1, _id: 0 },
    });
    for await (const doc of cursor) {
      const key = keyWithinRun(role, doc);
      if (!expected.has(key)) this.tally.extra(role, runId, key);
    }
  }
}
