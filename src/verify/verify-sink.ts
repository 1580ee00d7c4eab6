import type { Collection, Db, Document, Filter } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import { RunIdIndex } from '../normalize/run-id-file-names.js';
import type { FilePosition, RecordSink } from '../domain/record-sink.js';
import type { CollectionRole } from '../domain/collection-roles.js';
import type { Rejection } from '../domain/outcomes.js';
import { fileStem, parentFolderName } from '../scan/find-source-files.js';
import type { SourceFile } from '../domain/source-file.js';
import type { PendingRecord } from '../domain/pending-record.js';
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

/** What the sink tracks of one run within one open file. */
interface OpenRun {
  /** Every key of the run this file held so far: what extra documents are checked against. */
  keys: Set<string>;
  /** Records not compared yet (a file small enough is compared in one query at its end); null once spilled. */
  held: PendingRecord<Document>[] | null;
}

/**
 * The verify `RecordSink`: it receives exactly the batches `import` would write and compares each
 * record with the database document of the same unique key. It only ever reads (`find`,
 * `aggregate`), so it never creates a collection.
 *
 * Logs, approvals and artifacts are compared run by run, file by file. While a file is read, its
 * records are held (at most `holdLimit` records in all); when the reader hands the file over (all
 * its records accepted), each of its runs costs one query, `find({ runId })`, streamed: every
 * stored document is matched by key against the held records, the unmatched ones are extra and
 * the held records never seen are missing. A file too large to hold is compared batch by batch
 * (`$in` on the unique key), then its run's keys are streamed with a projection on the key only.
 * Memory is one file's keys (one run's, in the provider's layout) plus `holdLimit` records. A run
 * whose records of one collection come from several files (custom globs) gets its extras counted
 * from totals at the end instead (`extrasState` = `counted`).
 */
export class VerifySink implements RecordSink {
  /** Every runId the source holds (in scope or not), so other runs are not mistaken for extra runs. */
  readonly sourceRunIds = new Set<string>();
  /** The same file-name-to-run index the reader builds, for attributing rejections at the end. */
  readonly runIndex = new RunIdIndex();
  private readonly exact = new Map<KeyedRole, Set<string>>(KEYED_ROLES.map((role) => [role, new Set()]));
  private readonly counted = new Map<KeyedRole, Set<string>>(KEYED_ROLES.map((role) => [role, new Set()]));
  /** Files whose records arrived and that were not handed over yet. */
  private readonly openFiles = new Map<string, { role: KeyedRole; received: number; runs: Map<string, OpenRun> }>();
  private held = 0;

  constructor(
    private readonly db: Db,
    private readonly collections: CollectionNames,
    private readonly tally: VerifyTally,
    private readonly selection: RunSelection,
    /** Records held for one-query comparison, all files together (the batch size is a good value). */
    private readonly holdLimit: number,
  ) {}

  async accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void> {
    if (role === 'runs') {
      const selected: PendingRecord<Document>[] = [];
      for (const record of batch) {
        const runId = runIdOf(role, record.doc);
        this.sourceRunIds.add(runId);
        this.runIndex.add(runId);
        if (this.selection.includes(runId)) selected.push(record);
      }
      if (selected.length > 0) await this.compareRuns(selected);
      return;
    }
    // Grouped by (file, run): a batch may span the end of one file and the start of the next.
    const groups = new Map<string, { file: string; runId: string; records: PendingRecord<Document>[] }>();
    for (const record of batch) {
      const runId = runIdOf(role, record.doc);
      this.sourceRunIds.add(runId);
      const open = this.openFile(role, record.origin.file);
      open.received += 1;
      if (!this.selection.includes(runId)) continue;
      const id = `${record.origin.file}\u0000${runId}`;
      let group = groups.get(id);
      if (!group) groups.set(id, (group = { file: record.origin.file, runId, records: [] }));
      group.records.push(record);
    }
    for (const { file, runId, records } of groups.values()) {
      const open = this.openFile(role, file);
      let run = open.runs.get(runId);
      if (!run) open.runs.set(runId, (run = { keys: new Set(), held: [] }));
      for (const record of records) run.keys.add(keyWithinRun(role, record.doc));
      if (run.held && this.held + records.length <= this.holdLimit) {
        run.held.push(...records);
        this.held += records.length;
        continue;
      }
      const pending = [...(run.held ?? []), ...records];
      this.held -= run.held?.length ?? 0;
      run.held = null;
      await this.compareByKeys(role, runId, pending);
    }
  }

  /** A file is complete: compare what it held and find the database documents it does not hold. */
  async fileHandedOver(file: SourceFile, position: FilePosition): Promise<void> {
    if (file.role === 'runs') return;
    const open = this.openFiles.get(file.relativePath);
    if (!open) return;
    this.openFiles.delete(file.relativePath);
    const exact = this.exact.get(open.role) as Set<string>;
    const counted = this.counted.get(open.role) as Set<string>;
    for (const [runId, run] of open.runs) {
      // Not all records seen, or a run fed by several files: extras are counted from totals.
      if (open.received !== position.records || exact.has(runId) || counted.has(runId)) {
        await this.release(open.role, runId, run);
        exact.delete(runId);
        counted.add(runId);
        continue;
      }
      if (run.held) {
        this.held -= run.held.length;
        await this.compareWholeRun(open.role, runId, run.held);
      } else {
        await this.streamExtras(open.role, runId, run.keys);
      }
      exact.add(runId);
    }
  }

  /** Compares whatever is still held (files never handed over); their runs' extras are then counted. */
  async finish(): Promise<void> {
    for (const open of this.openFiles.values()) {
      for (const [runId, run] of open.runs) {
        await this.release(open.role, runId, run);
        (this.counted.get(open.role) as Set<string>).add(runId);
      }
    }
    this.openFiles.clear();
  }

  /** Where a rejection belongs: the run its file name (artifact folder name) resolves to, at the end. */
  noteRejection(rejection: Rejection): void {
    const attribution = rejection.collection === 'artifacts' ? parentFolderName(rejection.file) : fileStem(rejection.file);
    this.tally.rejection(attribution, rejection);
  }

  extrasState(role: KeyedRole, runId: string): ExtrasState {
    if ((this.exact.get(role) as Set<string>).has(runId)) return 'exact';
    if ((this.counted.get(role) as Set<string>).has(runId)) return 'counted';
    return 'none';
  }

  private openFile(role: KeyedRole, file: string): { role: KeyedRole; received: number; runs: Map<string, OpenRun> } {
    let open = this.openFiles.get(file);
    if (!open) this.openFiles.set(file, (open = { role, received: 0, runs: new Map() }));
    return open;
  }

  private async release(role: KeyedRole, runId: string, run: OpenRun): Promise<void> {
    if (!run.held) return;
    const held = run.held;
    this.held -= held.length;
    run.held = null;
    await this.compareByKeys(role, runId, held);
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

  /** Records of one run compared with the documents of the same keys (`$in` on the unique key). */
  private async compareByKeys(role: KeyedRole, runId: string, records: readonly PendingRecord<Document>[]): Promise<void> {
    if (records.length === 0) return;
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

  /** All of a run's records at hand: one streamed query for the comparison and the extras. */
  private async compareWholeRun(role: KeyedRole, runId: string, records: readonly PendingRecord<Document>[]): Promise<void> {
    const spec = VERIFY_SPECS[role];
    const byKey = new Map<string, PendingRecord<Document>[]>();
    for (const record of records) {
      const key = keyWithinRun(role, record.doc);
      const same = byKey.get(key);
      if (same) same.push(record);
      else byKey.set(key, [record]);
    }
    for await (const doc of this.collection(role).find({ runId } as Filter<Document>, READ_OPTIONS)) {
      const key = keyWithinRun(role, doc);
      const expected = byKey.get(key);
      if (!expected) {
        this.tally.extra(role, runId, key);
        continue;
      }
      byKey.delete(key);
      for (const record of expected) this.tally.verdict(role, runId, key, record.origin, classifyDocument(spec, record.doc, doc));
    }
    for (const [key, expected] of byKey) {
      for (const record of expected) this.tally.verdict(role, runId, key, record.origin, { kind: 'missing' });
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
