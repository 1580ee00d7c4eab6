import type { Collection, Document, Filter } from 'mongodb';
import type { CollectionRole } from '../domain/collection-roles.js';
import type { PendingRecord } from '../domain/pending-record.js';
import { findWhereIn } from '../server/server-commands.js';
import type { ReadStrategy } from '../server/server-profile.js';
import { classifyDocument } from './classify-document.js';
import { DocumentFeed } from './document-feed.js';
import { VERIFY_SPECS, keyWithinRun, runIdOf } from './verify-keys.js';
import { DETAILS_PER_RUN, type VerifyTally } from './verify-tally.js';

/** Read options for every query: Int64 reads back as bigint, as the importer wrote it. */
export const READ_OPTIONS = Object.freeze({ useBigInt64: true });

/** What the scan tells its owner about a run whose documents it will not list key by key. */
export interface ScanMarks {
  /** The run's one file was compared whole: its extra documents were listed key by key. */
  exact(runId: string): void;
  /** The run's extra documents are to be counted from totals (several files, or handed to per-run reads). */
  counted(runId: string): void;
}

export interface CollectionScanOptions {
  role: CollectionRole;
  collection: Collection<Document>;
  /** Which documents to read: `{}` (the whole collection), the runs in scope, or one run. */
  filter: Filter<Document>;
  tally: VerifyTally;
  /** How runs handed to per-run reads are read (`findWhereIn`). */
  reads: Pick<ReadStrategy, 'lookup' | 'runEachLimit'>;
  /** Source records and database documents held at most, together (a batch more while one is taken). */
  budget: number;
  /** Documents read ahead of the comparison. */
  readAhead: number;
  /** Documents held for records to come before the reading pauses (the disorder an import leaves: a few batches). */
  lead?: number;
  /** Whether a run's records are compared at all (`--run`, `--sample`); documents of other runs are only counted. */
  inScope(runId: string): boolean;
  /** Whether a file of this collection that may hold the run's records is still to be read (else its documents are not held). */
  mayStillHaveRecords(runId: string): boolean;
  marks: ScanMarks;
  /** Throws to stop (checked between batches read). */
  checkStop?: () => void;
}

/** A run with something held: its open file's keys, records waiting for their document, documents read ahead of its records. */
interface LiveRun {
  /** The file its records come from; undefined while none came (documents only); CLOSED once handed over. */
  file: string | undefined;
  /** Keys of the records of the open file (a second record of a key whose document was taken is looked up). */
  keys: Set<string> | undefined;
  waiting: Map<string, Waiting>;
  waitingRecords: number;
  ahead: Map<string, Document>;
}

/** Records of one key waiting for their document; `round`: the `advance` round they came in. */
interface Waiting {
  records: PendingRecord<Document>[];
  round: number;
}

const CLOSED = '\u0000closed';
/** What is known of a run without anything held. */
type RunState = 'exact' | 'counted' | 'perRun' | 'dropped';

/**
 * One collection compared in one read (`find(filter)` in the server's order, read ahead), matched
 * by key with the source records as they arrive. After an import the server's order follows the
 * source's, so a record usually meets its document within a few batches: records wait for their
 * document, documents read ahead wait for their record, both within `budget`. When the server's
 * order strays further (a database written by several importers at once, lines appended later),
 * the reading pauses while the documents held are ahead, and the runs whose records wait longest
 * are read by run instead (`findWhereIn`, the server's way) and handed to the per-run path, their
 * extra documents counted from totals. Memory: `budget` records and documents, the keys of the
 * open files, and one count per runId.
 *
 * A run's extra documents (of a source run) are listed as its file is handed over (documents read
 * ahead and not matched) and as they arrive after it; runs without records of this collection get
 * their documents counted (`documentsPerRun`) and their smallest keys kept for the report.
 */
export class CollectionScan {
  /** Documents per runId, every document read (string runIds). */
  readonly documentsPerRun = new Map<string, number>();
  /** Documents whose runId is not a string, per label (`(runId "12")`, `(runId missing)`). */
  readonly otherRunIds = new Map<string, number>();
  private readonly smallest = new Map<string, unknown[]>();
  private readonly live = new Map<string, LiveRun>();
  private readonly states = new Map<string, RunState>();
  private readonly fileRuns = new Map<string, Set<string>>();
  private lookups: Array<{ runId: string; record: PendingRecord<Document> }> = [];
  private readonly feed: DocumentFeed;
  private readonly runField: string;
  private readonly keyField: string;
  private waitingRecords = 0;
  /** Keys that came since the last `advance` and still wait: the reading goes on while there are some. */
  private freshWaiting = 0;
  private round = 0;
  private readonly lead: number;
  private aheadDocuments = 0;
  private feedDone = false;
  private sourceDone = false;

  constructor(private readonly options: CollectionScanOptions) {
    this.runField = options.role === 'runs' ? '_id' : 'runId';
    this.keyField = VERIFY_SPECS[options.role].keyField;
    const cursor = options.collection.find(options.filter, { ...READ_OPTIONS, batchSize: Math.max(1, Math.min(1000, options.readAhead)) });
    this.feed = new DocumentFeed(cursor, options.readAhead);
    this.lead = Math.min(options.budget, Math.max(options.lead ?? 0, 1));
  }

  /** The runId of the first document the server returns (undefined: none, or not a string), without taking it. */
  async firstRunId(): Promise<string | undefined> {
    const doc = await this.feed.peek();
    if (!doc) return undefined;
    const runId: unknown = this.options.role === 'runs' ? doc._id : doc.runId;
    return typeof runId === 'string' ? runId : undefined;
  }

  /** What is held now (for tests and logs). */
  get held(): { waiting: number; ahead: number } {
    return { waiting: this.waitingRecords, ahead: this.aheadDocuments };
  }

  /**
   * Records of one run from one file. False when the run is compared by the per-run path instead
   * (a second file of the run, or a run whose documents were not held): the caller compares them.
   */
  add(runId: string, file: string, records: readonly PendingRecord<Document>[]): boolean {
    const state = this.states.get(runId);
    if (state === 'perRun') return false;
    if (state === 'dropped') {
      // Its documents went by without being held: the per-run path reads them again, whole.
      this.states.set(runId, 'perRun');
      this.smallest.delete(runId);
      return false;
    }
    let run = this.live.get(runId);
    if (state === 'exact' || state === 'counted' || (run && run.file !== undefined && run.file !== file)) {
      this.handToPerRun(runId);
      return false;
    }
    if (!run) this.live.set(runId, (run = { file, keys: new Set(), waiting: new Map(), waitingRecords: 0, ahead: new Map() }));
    if (run.file === undefined) {
      run.file = file;
      run.keys = new Set();
      this.smallest.delete(runId);
    }
    let runs = this.fileRuns.get(file);
    if (!runs) this.fileRuns.set(file, (runs = new Set()));
    runs.add(runId);
    const keys = run.keys as Set<string>;
    for (const record of records) {
      const key = keyWithinRun(this.options.role, record.doc);
      if (keys.has(key)) {
        // A second record of this key in the file: it waits with the first, or its document was taken.
        const waiting = run.waiting.get(key);
        if (waiting) {
          waiting.records.push(record);
          run.waitingRecords += 1;
          this.waitingRecords += 1;
        } else {
          this.lookups.push({ runId, record });
        }
        continue;
      }
      keys.add(key);
      const doc = run.ahead.get(key);
      if (doc) {
        run.ahead.delete(key);
        this.aheadDocuments -= 1;
        this.verdict(runId, key, record, doc);
      } else if (this.feedDone) {
        this.verdict(runId, key, record, undefined);
      } else {
        run.waiting.set(key, { records: [record], round: this.round });
        run.waitingRecords += 1;
        this.waitingRecords += 1;
        this.freshWaiting += 1;
      }
    }
    return true;
  }

  /**
   * Reads on while records added since the last call wait for their documents, as long as the
   * documents read ahead stay within the lead: a record whose document is far away (or missing)
   * does not make the scan read the whole budget ahead; it waits until its document comes, the end
   * (missing), or until too many wait (then its run is read by run).
   */
  async advance(): Promise<void> {
    if (this.lookups.length > 0) await this.lookUp();
    while (this.freshWaiting > 0 && this.aheadDocuments < this.lead && !this.feedDone) await this.pull();
    this.round += 1;
    this.freshWaiting = 0;
    if (this.waitingRecords > this.options.budget) await this.deferLongestWaiting();
  }

  /** A file was handed over (`complete`: every record of it arrived): its runs are closed. */
  closeFile(file: string, complete: boolean): void {
    const runs = this.fileRuns.get(file);
    this.fileRuns.delete(file);
    for (const runId of runs ?? []) {
      const run = this.live.get(runId);
      if (!run || run.file !== file) continue;
      this.closeRun(runId, run, complete);
      if (run.waitingRecords === 0) this.live.delete(runId);
    }
  }

  /**
   * No more records of this run will come. `complete`: all of them came, so the documents read
   * ahead that no record claimed are extras, and the run's check is exact; else its extras are
   * counted from totals.
   */
  private closeRun(runId: string, run: LiveRun, complete: boolean): void {
    if (complete) {
      for (const key of run.ahead.keys()) this.options.tally.extra(this.options.role, runId, key);
      this.states.set(runId, 'exact');
      this.options.marks.exact(runId);
    } else {
      this.states.set(runId, 'counted');
      this.options.marks.counted(runId);
    }
    this.aheadDocuments -= run.ahead.size;
    run.ahead.clear();
    run.file = CLOSED;
    run.keys = undefined;
  }

  /**
   * The source has no more records of this collection: reads the rest (records still waiting
   * without their document are missing), and closes the cursor.
   */
  async finish(): Promise<void> {
    this.sourceDone = true;
    for (const [runId, run] of this.live) {
      if (run.file === undefined) {
        // Documents of a run that got no records: counted (and their smallest keys kept) when read.
        this.aheadDocuments -= run.ahead.size;
        this.live.delete(runId);
        this.states.set(runId, 'dropped');
      } else if (run.file !== CLOSED) {
        // A file never handed over: its run's extras are counted from totals.
        this.closeRun(runId, run, false);
      }
    }
    if (this.lookups.length > 0) await this.lookUp();
    while (!this.feedDone) await this.pull();
    await this.feed.close();
  }

  /** Stops reading (the comparison was aborted). */
  async close(): Promise<void> {
    await this.feed.close();
  }

  /** The smallest keys (at most DETAILS_PER_RUN, in the server's sort order) of a run that got no records. */
  smallestKeys(runId: string): unknown[] {
    return this.smallest.get(runId) ?? [];
  }

  private async pull(): Promise<void> {
    this.options.checkStop?.();
    const batch = await this.feed.next();
    if (!batch) {
      this.feedDone = true;
      this.settleWaiting();
      return;
    }
    for (const doc of batch) this.take(doc);
  }

  /** One document read: matched with its waiting record, held for its record, an extra, or only counted. */
  private take(doc: Document): void {
    const { role } = this.options;
    const rawRunId: unknown = role === 'runs' ? doc._id : doc.runId;
    if (role !== 'runs' && typeof rawRunId !== 'string') {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a runId that is not a string is a number or an ObjectId in practice, which print their value
      const label = `(runId ${rawRunId === null || rawRunId === undefined ? 'missing' : JSON.stringify(String(rawRunId))})`;
      this.otherRunIds.set(label, (this.otherRunIds.get(label) ?? 0) + 1);
      return;
    }
    const runId = runIdOf(role, doc);
    this.documentsPerRun.set(runId, (this.documentsPerRun.get(runId) ?? 0) + 1);
    if (!this.options.inScope(runId)) return;
    const key = keyWithinRun(role, doc);
    const run = this.live.get(runId);
    if (run) {
      const waiting = run.waiting.get(key);
      if (waiting) {
        run.waiting.delete(key);
        run.waitingRecords -= waiting.records.length;
        this.waitingRecords -= waiting.records.length;
        if (waiting.round === this.round) this.freshWaiting -= 1;
        for (const record of waiting.records) this.verdict(runId, key, record, doc);
        if (run.file === CLOSED && run.waitingRecords === 0) this.live.delete(runId);
        return;
      }
      if (run.file === CLOSED) {
        if (this.states.get(runId) === 'exact') this.options.tally.extra(role, runId, key);
        return;
      }
      if (run.file !== undefined && run.keys?.has(key)) {
        // A second document of a key whose record was compared already.
        this.options.tally.extra(role, runId, key);
        return;
      }
      if (run.file === undefined) this.keepSmallest(runId, doc[this.keyField]);
      if (run.ahead.has(key)) {
        // Two documents of one key before its record: the per-run path sorts that out.
        if (run.file === undefined) this.dropRun(runId);
        else this.options.tally.extra(role, runId, key);
        return;
      }
      run.ahead.set(key, doc);
      this.aheadDocuments += 1;
      return;
    }
    const state = this.states.get(runId);
    if (state === 'exact') {
      this.options.tally.extra(role, runId, key);
      return;
    }
    if (state === 'counted' || state === 'perRun') return;
    this.keepSmallest(runId, doc[this.keyField]);
    if (state === 'dropped') return;
    if (this.sourceDone || !this.options.mayStillHaveRecords(runId)) {
      this.states.set(runId, 'dropped');
      return;
    }
    this.live.set(runId, { file: undefined, keys: undefined, waiting: new Map(), waitingRecords: 0, ahead: new Map([[key, doc]]) });
    this.aheadDocuments += 1;
  }

  private verdict(runId: string, key: string, record: PendingRecord<Document>, doc: Document | undefined): void {
    const { role, tally } = this.options;
    tally.verdict(role, runId, key, record.origin, classifyDocument(VERIFY_SPECS[role], record.doc, doc));
  }

  /** Every document was read: the records still waiting have none. */
  private settleWaiting(): void {
    for (const [runId, run] of this.live) {
      for (const [key, { records }] of run.waiting) for (const record of records) this.verdict(runId, key, record, undefined);
      this.waitingRecords -= run.waitingRecords;
      run.waiting.clear();
      run.waitingRecords = 0;
      if (run.file === CLOSED) this.live.delete(runId);
    }
    this.freshWaiting = 0;
  }

  /** A run whose documents were read ahead without records yet, and that cannot be held: read by run later. */
  private dropRun(runId: string): void {
    const run = this.live.get(runId);
    if (run) this.aheadDocuments -= run.ahead.size;
    this.live.delete(runId);
    this.states.set(runId, 'dropped');
  }

  /**
   * The run is compared by the per-run path from now on: the records of it that wait are looked
   * up now, its documents read later are ignored (only counted), its extras counted from totals.
   */
  private handToPerRun(runId: string): void {
    const run = this.live.get(runId);
    if (run) {
      for (const { records, round } of run.waiting.values()) {
        for (const record of records) this.lookups.push({ runId, record });
        if (round === this.round) this.freshWaiting -= 1;
      }
      this.waitingRecords -= run.waitingRecords;
      this.aheadDocuments -= run.ahead.size;
      this.live.delete(runId);
    }
    this.states.set(runId, 'perRun');
    this.options.marks.counted(runId);
  }

  /** Too many records wait: the runs waiting longest (about half the records) are read by run and handed over. */
  private async deferLongestWaiting(): Promise<void> {
    const target = this.waitingRecords / 2;
    let freed = 0;
    const chosen: string[] = [];
    for (const [runId, run] of this.live) {
      if (run.waitingRecords === 0) continue;
      chosen.push(runId);
      freed += run.waitingRecords;
      if (freed >= target) break;
    }
    for (const runId of chosen) this.handToPerRun(runId);
    await this.lookUp();
  }

  /** Compares the records queued for a lookup with their documents, read run by run the server's way. */
  private async lookUp(): Promise<void> {
    const pending = this.lookups;
    this.lookups = [];
    const wanted = new Map<string, { runId: string; key: string; records: PendingRecord<Document>[] }>();
    for (const { runId, record } of pending) {
      const key = keyWithinRun(this.options.role, record.doc);
      const id = `${runId}\u0000${key}`;
      const entry = wanted.get(id);
      if (entry) entry.records.push(record);
      else wanted.set(id, { runId, key, records: [record] });
    }
    const runIds = [...new Set(pending.map((item) => item.runId))];
    for await (const doc of findWhereIn(this.options.collection, this.runField, runIds, this.options.reads)) {
      this.options.checkStop?.();
      const entry = wanted.get(`${runIdOf(this.options.role, doc)}\u0000${keyWithinRun(this.options.role, doc)}`);
      if (!entry) continue;
      for (const record of entry.records) this.verdict(entry.runId, entry.key, record, doc);
      wanted.delete(`${entry.runId}\u0000${entry.key}`);
    }
    for (const { runId, key, records } of wanted.values()) for (const record of records) this.verdict(runId, key, record, undefined);
  }

  private keepSmallest(runId: string, value: unknown): void {
    if (this.options.role === 'runs') return;
    let kept = this.smallest.get(runId);
    if (!kept) this.smallest.set(runId, (kept = []));
    keepSmallestKeys(kept, value);
  }
}

/** Keeps `kept` the DETAILS_PER_RUN smallest key values seen, in order (`compareKeyValues`). */
export function keepSmallestKeys(kept: unknown[], value: unknown): void {
  if (kept.length >= DETAILS_PER_RUN && compareKeyValues(value, kept[kept.length - 1]) >= 0) return;
  let index = kept.length;
  while (index > 0 && compareKeyValues(value, kept[index - 1]) < 0) index -= 1;
  kept.splice(index, 0, value);
  if (kept.length > DETAILS_PER_RUN) kept.pop();
}

/**
 * Key values in the order a `sort({key: 1})` returns them: missing and null first, then numbers
 * (any BSON number type, by value), then strings (by code point, as UTF-8 bytes compare), then the rest.
 */
export function compareKeyValues(a: unknown, b: unknown): number {
  const rank = (value: unknown): number =>
    value === null || value === undefined ? 0 : typeof value === 'number' || typeof value === 'bigint' ? 1 : typeof value === 'string' ? 2 : 3;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  if (ra === 2) return compareCodePoints(a as string, b as string);
   
  if (ra === 3) return compareCodePoints(String(a), String(b));
  return 0;
}

function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i += 1;
  }
  return a.length - b.length;
}
