import type { Collection, Db, Document, Filter } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import { RunIdIndex, runIdToFileStem } from '../normalize/run-id-file-names.js';
import type { FilePosition, RecordSink } from '../domain/record-sink.js';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import type { Rejection } from '../domain/outcomes.js';
import { fileStem, parentFolderName, type SourceInventory } from '../scan/find-source-files.js';
import type { SourceFile } from '../domain/source-file.js';
import type { PendingRecord } from '../domain/pending-record.js';
import { findWhereIn } from '../server/server-commands.js';
import type { ReadStrategy } from '../server/server-profile.js';
import { classifyDocument } from './classify-document.js';
import { CollectionScan, READ_OPTIONS } from './collection-scan.js';
import type { RunSelection } from './run-selection.js';
import { VERIFY_SPECS, keyWithinRun, runIdOf } from './verify-keys.js';
import type { VerifyTally } from './verify-tally.js';

export { READ_OPTIONS } from './collection-scan.js';

/** How the extra documents of one (collection, run) are known once the source is read. */
export type ExtrasState = 'exact' | 'counted' | 'none';

/**
 * How verify reads the database, chosen from the server profile's read strategy (`verifyReadMode`):
 * - `per-run`: each run's documents with one query by runId, as its file is handed over (served
 *   by the spec's `{runId, ...}` indexes where lookups go by `_id`, `id-in`; pushed down to the
 *   backend where only equality is, `run-each`, while the runs in scope are few), and the extras
 *   with one `$group` per collection (or, for a few selected runs, one query each);
 * - `scan`: each collection read once, in the server's order, matched with the source as it is
 *   read (`CollectionScan`), the extras found on the way: where every query scans the collection
 *   (`run-in`), or where each query by run scans it inside the backend and there are more runs
 *   in scope than the profile's `runEachLimit` (`run-each`).
 */
export type VerifyReadMode = 'per-run' | 'scan';

/** The read mode for verifying `runsInScope` runs (undefined: every run of the source). */
export function verifyReadMode(reads: Pick<ReadStrategy, 'lookup' | 'runEachLimit'>, runsInScope: number | undefined): VerifyReadMode {
  switch (reads.lookup) {
    case 'id-in':
      return 'per-run';
    case 'run-in':
      return 'scan';
    case 'run-each':
      // Every run of the source also means every runId of the database (extra runs): one pass is needed anyway.
      return runsInScope === undefined || runsInScope > reads.runEachLimit ? 'scan' : 'per-run';
  }
}

/** Above this many runIds in scope, a scan reads the whole collection and leaves out the others itself. */
const IN_FILTER_LIMIT = 100;

type KeyedRole = Exclude<CollectionRole, 'runs'>;
const KEYED_ROLES: readonly KeyedRole[] = ['logs', 'approvals', 'artifacts'];

/** What the per-run path tracks of one run within one open file. */
interface OpenRun {
  /** Every key of the run this file held so far (until it is streamed): what extra documents are checked against. */
  keys: Set<string> | undefined;
  /** Records not compared yet (a file small enough is compared in one query at its end); null once spilled. */
  held: PendingRecord<Document>[] | null;
  /** A file too large to hold: its run's documents streamed (`{runId}`) and matched as its records arrive. */
  stream?: CollectionScan;
  /** The stream handed the run back to key lookups: its extras are counted from totals. */
  streamCounted?: boolean;
}

export interface VerifySinkOptions {
  /** Records held for one-query comparison, all files together (the batch size is a good value). */
  holdLimit: number;
  /** The server profile's read strategy. */
  reads: ReadStrategy;
  mode: VerifyReadMode;
  /** The files that will be read (those `--run`/`--sample` skip left out), so a scan knows which runs still get records. */
  files?: Readonly<Record<CollectionRole, readonly SourceFile[]>>;
  /** Throws to stop; checked between the batches a query returns. */
  checkStop?: () => void;
  /** Records and documents a scan or a stream holds at most (default: the holdLimit or the profile's `existingEntriesPerLookup`, the larger). */
  budget?: number;
}

/**
 * The verify `RecordSink`: it receives exactly the batches `import` would write and compares each
 * record with the database document of the same unique key. It only ever reads (`find`,
 * `aggregate`), so it never creates a collection.
 *
 * In `scan` mode each collection is read once, as its phase of the source is read
 * (`CollectionScan`); runs the scan hands back (several files, or an order too far from the
 * source's) go the per-run way. In `per-run` mode, logs, approvals and artifacts are compared run
 * by run, file by file. While a file is read, its records are held (at most `holdLimit` records in
 * all); when the reader hands the file over (all its records accepted), each of its runs costs one
 * query, `find({ runId })`, streamed: every stored document is matched by key against the held
 * records, the unmatched ones are extra and the held records never seen are missing. A file too
 * large to hold streams its run's documents (`find({ runId })`) and matches them as its records
 * arrive, with the same bounded matching as a scan. Memory is one file's keys (one run's, in the
 * provider's layout) plus `holdLimit` records, or a scan's budget. A run whose records of one
 * collection come from several files (custom globs) gets its extras counted from totals at the
 * end instead (`extrasState` = `counted`).
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
  private readonly scans = new Map<CollectionRole, CollectionScan>();
  private readonly scansFinished = new Set<CollectionRole>();
  private currentRole: CollectionRole | undefined;
  /** Per collection: how many files still to be read carry each stem (for the scans). */
  private readonly pendingStems = new Map<CollectionRole, Map<string, number>>();
  private readonly budget: number;
  private readonly holdLimit: number;

  constructor(
    private readonly db: Db,
    private readonly collections: CollectionNames,
    private readonly tally: VerifyTally,
    private readonly selection: RunSelection,
    private readonly options: VerifySinkOptions,
  ) {
    this.holdLimit = options.holdLimit;
    this.budget = options.budget ?? Math.max(options.holdLimit, options.reads.existingEntriesPerLookup);
    for (const role of COLLECTION_ROLES) {
      const stems = new Map<string, number>();
      for (const file of options.files?.[role] ?? []) {
        const stem = stemOf(role, file.relativePath);
        stems.set(stem, (stems.get(stem) ?? 0) + 1);
      }
      this.pendingStems.set(role, stems);
    }
  }

  get mode(): VerifyReadMode {
    return this.options.mode;
  }

  /**
   * In scan mode: starts the read of every collection (each reads ahead from now on) and returns
   * the inventory to read, each collection's files in the order the server returns their
   * documents: from the file of the run the server starts with, round to the one before it. A
   * server may start a full read anywhere (PostgreSQL's synchronized sequential scans start where
   * the last scan of the table was), and the rest of its order follows the import's, which followed
   * this inventory's. Elsewhere the inventory as it is.
   */
  async startScans(inventory: SourceInventory): Promise<SourceInventory> {
    if (this.options.mode !== 'scan') return inventory;
    const files = { ...inventory.files };
    for (const role of COLLECTION_ROLES) {
      const scan = this.scanFor(role);
      const first = await scan.firstRunId();
      if (first === undefined) continue;
      const stem = runIdToFileStem(first);
      const list = files[role];
      const at = list.findIndex((file) => stemOf(role, file.relativePath) === stem);
      if (at > 0) files[role] = [...list.slice(at), ...list.slice(0, at)];
    }
    return { ...inventory, files };
  }

  async accept(role: CollectionRole, batch: PendingRecord<Document>[]): Promise<void> {
    const scan = await this.enterPhase(role);
    if (role === 'runs') {
      const selected: PendingRecord<Document>[] = [];
      for (const record of batch) {
        const runId = runIdOf(role, record.doc);
        this.sourceRunIds.add(runId);
        this.runIndex.add(runId);
        if (!this.selection.includes(runId)) continue;
        if (!scan?.add(runId, record.origin.file, [record])) selected.push(record);
      }
      if (selected.length > 0) await this.compareRuns(selected);
      await scan?.advance();
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
      if (scan?.add(runId, file, records)) continue;
      await this.acceptPerRun(role, file, runId, records);
    }
    await scan?.advance();
  }

  /** A file is complete: compare what it held and find the database documents it does not hold. */
  async fileHandedOver(file: SourceFile, position: FilePosition): Promise<void> {
    const scan = await this.enterPhase(file.role);
    const stems = this.pendingStems.get(file.role) as Map<string, number>;
    const stem = stemOf(file.role, file.relativePath);
    const left = (stems.get(stem) ?? 1) - 1;
    if (left > 0) stems.set(stem, left);
    else stems.delete(stem);
    const open = file.role === 'runs' ? undefined : this.openFiles.get(file.relativePath);
    scan?.closeFile(file.relativePath, file.role === 'runs' || open?.received === position.records);
    if (!open) return;
    this.openFiles.delete(file.relativePath);
    const exact = this.exact.get(open.role) as Set<string>;
    const counted = this.counted.get(open.role) as Set<string>;
    for (const [runId, run] of open.runs) {
      // Not all records seen, or a run fed by several files: extras are counted from totals.
      const severalFiles = open.received !== position.records || exact.has(runId) || counted.has(runId);
      if (run.stream) {
        run.stream.closeFile(file.relativePath, !severalFiles);
        await run.stream.finish();
        exact.delete(runId);
        if (severalFiles || run.streamCounted) counted.add(runId);
        else exact.add(runId);
        continue;
      }
      if (severalFiles) {
        await this.release(open.role, runId, run);
        exact.delete(runId);
        counted.add(runId);
        continue;
      }
      if (run.held) {
        this.held -= run.held.length;
        await this.compareWholeRun(open.role, runId, run.held);
      } else {
        await this.streamExtras(open.role, runId, run.keys ?? new Set());
      }
      exact.add(runId);
    }
    await scan?.advance();
  }

  /**
   * Compares whatever is still held (files never handed over; their runs' extras are then
   * counted); in scan mode, reads the rest of each collection (those the source had no record of
   * included), so the extras are known.
   */
  async finish(): Promise<void> {
    for (const open of this.openFiles.values()) {
      for (const [runId, run] of open.runs) {
        if (run.stream) {
          await run.stream.finish();
        } else {
          await this.release(open.role, runId, run);
        }
        (this.counted.get(open.role) as Set<string>).add(runId);
        (this.exact.get(open.role) as Set<string>).delete(runId);
      }
    }
    this.openFiles.clear();
    if (this.options.mode !== 'scan') return;
    for (const role of COLLECTION_ROLES) {
      const scan = await this.enterPhase(role);
      await scan?.finish();
      this.scansFinished.add(role);
    }
    this.currentRole = undefined;
  }

  /** Stops every read in progress (the comparison was aborted). */
  async close(): Promise<void> {
    for (const scan of this.scans.values()) await scan.close();
    for (const open of this.openFiles.values()) for (const run of open.runs.values()) await run.stream?.close();
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

  /** In scan mode, once finished: what the scan of a collection read. */
  scanOf(role: CollectionRole): CollectionScan | undefined {
    return this.scansFinished.has(role) ? this.scans.get(role) : undefined;
  }

  /**
   * In scan mode: the phase of `role` begins (or goes on). The scan of the collection before it is
   * finished (its source phase is over: the reader goes collection by collection) and this one's
   * started.
   */
  private async enterPhase(role: CollectionRole): Promise<CollectionScan | undefined> {
    if (this.options.mode !== 'scan') return undefined;
    if (this.currentRole !== role) {
      const previous = this.currentRole === undefined ? undefined : this.scans.get(this.currentRole);
      if (previous && this.currentRole) {
        await previous.finish();
        this.scansFinished.add(this.currentRole);
      }
      this.currentRole = role;
    }
    if (this.scansFinished.has(role)) return undefined;
    return this.scanFor(role);
  }

  private scanFor(role: CollectionRole): CollectionScan {
    let scan = this.scans.get(role);
    if (!scan) {
      scan = this.startScan(role, this.scopeFilter(role), {
        exact: (runId) => this.mark(role, runId, 'exact'),
        counted: (runId) => this.mark(role, runId, 'counted'),
      });
      this.scans.set(role, scan);
    }
    return scan;
  }

  private startScan(role: CollectionRole, filter: Filter<Document>, marks: { exact(runId: string): void; counted(runId: string): void }, wholeCollection = true): CollectionScan {
    const stems = this.pendingStems.get(role) as Map<string, number>;
    return new CollectionScan({
      role,
      collection: this.collection(role),
      filter,
      tally: this.tally,
      reads: this.options.reads,
      budget: this.budget,
      readAhead: Math.min(this.budget, 2000),
      // An import leaves its batches in flight interleaved: a few batches of disorder.
      lead: Math.min(this.budget, 8 * Math.max(this.holdLimit, 1000)),
      inScope: wholeCollection ? (runId) => this.selection.includes(runId) : () => true,
      mayStillHaveRecords: wholeCollection ? (runId) => stems.has(runIdToFileStem(runId)) : () => true,
      marks,
      ...(this.options.checkStop ? { checkStop: this.options.checkStop } : {}),
    });
  }

  private mark(role: CollectionRole, runId: string, how: 'exact' | 'counted'): void {
    if (role === 'runs') return;
    const exact = this.exact.get(role) as Set<string>;
    const counted = this.counted.get(role) as Set<string>;
    if (how === 'exact' && !counted.has(runId)) exact.add(runId);
    if (how === 'counted') {
      exact.delete(runId);
      counted.add(runId);
    }
  }

  /**
   * What a scan reads: the whole collection, or the runs named with `--run` while they are few
   * (a sample's runIds are known only once the state files are read: its scans leave the other
   * runs out themselves).
   */
  private scopeFilter(role: CollectionRole): Filter<Document> {
    const ids = this.selection.namedRunIds();
    if (ids === undefined || ids.length > IN_FILTER_LIMIT) return {};
    return { [role === 'runs' ? '_id' : 'runId']: { $in: [...ids] } };
  }

  /** The per-run path: records of one run from one file. */
  private async acceptPerRun(role: KeyedRole, file: string, runId: string, records: PendingRecord<Document>[]): Promise<void> {
    const open = this.openFile(role, file);
    let run = open.runs.get(runId);
    if (!run) open.runs.set(runId, (run = { keys: new Set(), held: [] }));
    if (run.stream) {
      if (!run.stream.add(runId, file, records)) {
        run.streamCounted = true;
        await this.compareByKeys(role, runId, records);
      }
      await run.stream.advance();
      return;
    }
    for (const record of records) run.keys?.add(keyWithinRun(role, record.doc));
    if (run.held && this.held + records.length <= this.holdLimit) {
      run.held.push(...records);
      this.held += records.length;
      return;
    }
    const pending = [...(run.held ?? []), ...records];
    this.held -= run.held?.length ?? 0;
    if (run.held !== null) {
      // Too large to hold: stream the run's documents and match them as the records arrive.
      run.held = null;
      run.keys = undefined;
      const opened = run;
      run.stream = this.startScan(role, { runId }, { exact: () => undefined, counted: () => void (opened.streamCounted = true) }, false);
      if (!run.stream.add(runId, file, pending)) await this.compareByKeys(role, runId, pending);
      await run.stream.advance();
      return;
    }
    await this.compareByKeys(role, runId, pending);
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
    for await (const doc of findWhereIn(this.collection('runs'), '_id', ids, this.options.reads)) stored.set(String(doc._id), doc);
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

/** The name part a file shares with its run: the file stem, or for a manifest its folder's name. */
function stemOf(role: CollectionRole, relativePath: string): string {
  return role === 'artifacts' ? parentFolderName(relativePath) : fileStem(relativePath);
}
