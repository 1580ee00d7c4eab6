/**
 * The ledger's file entries on the real server: packed into journals and a digest per partition
 * (src/ledger/file-journal.ts), they must read back exactly as the one-document-per-file ledger of
 * earlier versions did, for the same writes; `status` from the digest's summary must equal the
 * sum over the entries; a compaction stopped anywhere must lose nothing; an unchanged re-run must
 * write nothing but its session.
 */
import { utimes, writeFile, appendFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Collection, Document } from 'mongodb';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { fileEntryId, statusRows } from '../../src/ledger/file-journal.js';
import { COMPACT_AFTER_JOURNALS, LedgerStore } from '../../src/ledger/ledger-store.js';
import type { LedgerFileEntry } from '../../src/ledger/ledger-types.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import type { ImportReport } from '../../src/report/import-report.js';
import { dumpDatabase, dumpText } from '../helpers/dump.js';
import { makeSyntheticTree, type SyntheticTree } from '../helpers/synthetic-tree.js';
import { testDatabases, type TestDb } from '../helpers/test-db.js';
import { asStored } from '../helpers/ledger-entries.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LEDGER = 'taskrunner_backfill_ledger';

const databases = testDatabases({ useBigInt64: true });
afterAll(() => databases.dropAll(), 60_000);
const freshDb = (prefix: string): Promise<TestDb> => databases.open(prefix);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function synthetic(runs: number, linesPerRun: number): Promise<SyntheticTree> {
  const tree = await makeSyntheticTree({ runs, linesPerRun });
  cleanups.push(() => tree.remove());
  return tree;
}

function importInto(t: TestDb, source: string, overrides: Partial<ImportOptions> = {}): Promise<ImportReport> {
  const config = resolveConfig({ source }, {}, [], REPO);
  return runImport({ ...config, source: config.source ?? source, ...overrides }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
}

/** An import stopped (as by SIGINT) after `batches` batches of 50 records. */
async function stoppedImport(t: TestDb, source: string, batches: number): Promise<ImportReport> {
  const controller = new AbortController();
  const config = resolveConfig({ source }, {}, [], REPO);
  let seen = 0;
  return runImport(
    { ...config, source, batchSize: 50 },
    {
      db: t.db,
      serverLabel: 'test',
      logger: pino({ level: 'silent' }),
      signal: controller.signal,
      progress: {
        start: () => undefined,
        records: () => {
          if (++seen === batches) controller.abort();
        },
        fileDone: () => undefined,
        stop: () => undefined,
      },
    },
  );
}

let clock = Date.UTC(2026, 0, 1);
function entry(partition: string, name: string, overrides: Partial<LedgerFileEntry> = {}): LedgerFileEntry {
  const role = overrides.role ?? 'logs';
  const relativePath = `${role}/${name}`;
  return {
    _id: fileEntryId(partition, { role, relativePath }),
    kind: 'file',
    partition,
    role,
    path: relativePath,
    size: 100,
    mtimeMs: 1_796_001_290_012.697,
    sha256: 'cd'.repeat(32),
    endOffset: 100,
    nextLine: 3,
    status: 'done',
    hashedTo: 100,
    records: 2,
    rejected: 0,
    runId: name,
    optionsKey: 'v1|enum=canonical|runs,logs,approvals,artifacts',
    sessionId: 'session-1',
    updatedAt: new Date((clock += 1000)),
    ...overrides,
  };
}

/** The per-file ledger of earlier versions: what their writeFiles did to it (each entry replaces its file's document). */
class PerFileReference {
  constructor(readonly collection: Collection<Document>) {}
  async writeFiles(entries: readonly LedgerFileEntry[]): Promise<void> {
    for (const e of entries) await this.collection.replaceOne({ _id: e._id as unknown as Document['_id'] }, e, { upsert: true });
  }
  async files(partition: string): Promise<Map<string, LedgerFileEntry>> {
    const docs = (await this.collection.find({ kind: 'file', partition }, { useBigInt64: false }).toArray()) as unknown as LedgerFileEntry[];
    return new Map(docs.map((doc) => [doc._id, doc]));
  }
  async all(): Promise<LedgerFileEntry[]> {
    return (await this.collection.find({ kind: 'file' }, { useBigInt64: false }).toArray()) as unknown as LedgerFileEntry[];
  }
}

/** Both ledgers get the same writes. */
async function bothWrite(store: LedgerStore, reference: PerFileReference, entries: LedgerFileEntry[]): Promise<void> {
  await store.writeFiles(entries);
  await reference.writeFiles(entries);
}

async function expectSame(t: TestDb, reference: PerFileReference, partitions: string[]): Promise<void> {
  for (const partition of partitions) {
    const fresh = new LedgerStore(t.db, LEDGER);
    expect(inMillis(await fresh.loadFiles(partition)), `partition ${partition}`).toEqual(inMillis(await reference.files(partition)));
  }
  const store = new LedgerStore(t.db, LEDGER);
  expect(await store.fileStatusCounts()).toEqual(statusRows(await reference.all()));
  expect(sortById(await store.allFiles()).map(asStored)).toEqual(sortById(await reference.all()).map(asStored));
}

function inMillis(entries: ReadonlyMap<string, LedgerFileEntry>): Map<string, LedgerFileEntry> {
  return new Map([...entries].map(([id, e]) => [id, asStored(e)]));
}

function sortById(entries: LedgerFileEntry[]): LedgerFileEntry[] {
  return [...entries].sort((a, b) => (a._id < b._id ? -1 : 1));
}

describe('the ledger file entries, packed', () => {
  it('read back as the per-file ledger did for the same writes, through compactions and new runs', async () => {
    const t = await freshDb('ledger_packed');
    const reference = new PerFileReference(t.db.collection('reference_ledger'));
    // Run 1 of partition 1/2: checkpoints logs, finishes some, checkpoints one, finishes files of other kinds.
    let run = new LedgerStore(t.db, LEDGER);
    expect(await run.loadFiles('1/2')).toEqual(new Map());
    await bothWrite(run, reference, ['a', 'b', 'c'].map((name) => entry('1/2', name, { status: 'partial', endOffset: 10, hashedTo: 20, records: 0 })));
    await bothWrite(run, reference, [entry('1/2', 'a'), entry('1/2', 's', { role: 'runs', runId: 'run-s' })]);
    await bothWrite(run, reference, [entry('1/2', 'b', { status: 'partial', endOffset: 50, hashedTo: 60, records: 0 })]);
    await bothWrite(run, reference, [entry('1/2', 'c', { status: 'done-with-issues', rejected: 2 })]);
    await expectSame(t, reference, ['1/2']);
    expect(await run.compactFiles('1/2')).toMatchObject({ compacted: true, entries: 4, journals: 4 });
    await expectSame(t, reference, ['1/2']);

    // Run 2 (after the digest): a known log checkpointed again, a new one, then the known one finished.
    run = new LedgerStore(t.db, LEDGER);
    await run.loadFiles('1/2');
    await bothWrite(run, reference, [entry('1/2', 'b', { status: 'partial', endOffset: 120, records: 0 }), entry('1/2', 'd', { status: 'partial', endOffset: 5 })]);
    await bothWrite(run, reference, [entry('1/2', 'b', { size: 180, endOffset: 180 })]);
    // Partition 2/2 written meanwhile by its own importer.
    const other = new LedgerStore(t.db, LEDGER);
    await other.loadFiles('2/2');
    await bothWrite(other, reference, [entry('2/2', 'x'), entry('2/2', 'y', { status: 'done-with-issues', rejected: 1 })]);
    // Journals pending on top of the digest: status sums them in.
    await expectSame(t, reference, ['1/2', '2/2']);
    expect((await run.compactFiles('1/2')).compacted).toBe(true);
    await expectSame(t, reference, ['1/2', '2/2']);
    expect((await other.compactFiles('2/2')).compacted).toBe(true);
    await expectSame(t, reference, ['1/2', '2/2']);

    // What is left in the ledger: per partition a head and its part(s), nothing else.
    const kinds = (await t.db.collection(LEDGER).find({}, { projection: { kind: 1, partition: 1 } }).toArray()).map((doc) => `${String(doc.partition)} ${String(doc.kind)}`).sort();
    expect(kinds).toEqual(['1/2 digest', '1/2 digest-part', '2/2 digest', '2/2 digest-part']);

    // A run that changes nothing compacts nothing, and writes nothing.
    run = new LedgerStore(t.db, LEDGER);
    await run.loadFiles('1/2');
    const before = await t.db.collection(LEDGER).find({}).toArray();
    expect(await run.compactFiles('1/2')).toEqual({ compacted: false, reason: 'unchanged' });
    expect(await t.db.collection(LEDGER).find({}).toArray()).toEqual(before);
  });

  it('loses nothing when a compaction stops anywhere: parts without their head, journals left behind', async () => {
    const t = await freshDb('ledger_compaction_stops');
    const reference = new PerFileReference(t.db.collection('reference_ledger'));
    const ledger = t.db.collection(LEDGER);
    let run = new LedgerStore(t.db, LEDGER);
    await run.loadFiles('1/1');
    await bothWrite(run, reference, [entry('1/1', 'a'), entry('1/1', 'b')]);
    await bothWrite(run, reference, [entry('1/1', 'a', { size: 200, endOffset: 200 })]);
    const journals = await ledger.find({ kind: 'journal' }).toArray();
    expect(journals.length).toBe(2);
    await run.compactFiles('1/1');

    // Stopped after the head, before the journals were deleted: they are covered, and ignored.
    await ledger.insertMany(journals);
    await expectSame(t, reference, ['1/1']);
    // Stopped before the head: parts of a generation no head names are ignored.
    const parts = await ledger.find({ kind: 'digest-part' }).toArray();
    await ledger.insertMany(parts.map((part) => ({ ...part, _id: `${String(part._id)}-orphan` as unknown as Document['_id'], generation: 'never-headed' })));
    await expectSame(t, reference, ['1/1']);

    // The next run's journals come after the digest, and its compaction clears what was left behind.
    run = new LedgerStore(t.db, LEDGER);
    await run.loadFiles('1/1');
    await bothWrite(run, reference, [entry('1/1', 'b', { status: 'done-with-issues', rejected: 3 })]);
    await expectSame(t, reference, ['1/1']);
    await run.compactFiles('1/1');
    await expectSame(t, reference, ['1/1']);
    expect(await ledger.countDocuments({ kind: { $in: ['journal', 'digest-part'] }, generation: { $ne: (await ledger.findOne({ kind: 'digest' }))?.generation } })).toBe(0);
  });

  it('is due for a compaction once journals accumulate, and only for a partition this store loaded', async () => {
    const t = await freshDb('ledger_due');
    const reference = new PerFileReference(t.db.collection('reference_ledger'));
    const unloaded = new LedgerStore(t.db, LEDGER);
    const x = entry('1/1', 'x');
    await unloaded.writeFiles([x]);
    await reference.writeFiles([x]);
    expect(await unloaded.compactFiles('1/1')).toEqual({ compacted: false, reason: 'not loaded whole, or a ledger write failed in this run' });
    const run = new LedgerStore(t.db, LEDGER);
    await run.loadFiles('1/1');
    for (let i = 0; i < COMPACT_AFTER_JOURNALS - 2; i += 1) await bothWrite(run, reference, [entry('1/1', `f${i % 7}`, { records: i })]);
    expect(run.compactionDue('1/1')).toBe(false);
    await bothWrite(run, reference, [entry('1/1', 'last')]);
    expect(run.compactionDue('1/1'), `${COMPACT_AFTER_JOURNALS} journals`).toBe(true);
    expect(await run.compactFiles('1/1')).toMatchObject({ compacted: true, entries: 9, journals: COMPACT_AFTER_JOURNALS });
    expect(run.compactionDue('1/1')).toBe(false);
    await expectSame(t, reference, ['1/1']);
    // The same store goes on writing after its compaction (as an import does), and compacts again.
    await bothWrite(run, reference, [entry('1/1', 'f1', { status: 'partial', records: 0 })]);
    await expectSame(t, reference, ['1/1']);
    expect(await run.compactFiles('1/1')).toMatchObject({ compacted: true, entries: 9, journals: 1 });
    await expectSame(t, reference, ['1/1']);
  });

  it('reads the per-file documents of earlier versions, folds them into the digest and deletes them', async () => {
    const t = await freshDb('ledger_legacy');
    const reference = new PerFileReference(t.db.collection('reference_ledger'));
    // An earlier version's ledger: one document per file, in the ledger collection itself.
    const legacy = new PerFileReference(t.db.collection(LEDGER));
    const old = Array.from({ length: 30 }, (_, i) => entry('1/1', `old-${i}`, { records: i }));
    await legacy.writeFiles(old);
    await reference.writeFiles(old);
    const run = new LedgerStore(t.db, LEDGER);
    expect(inMillis(await run.loadFiles('1/1'))).toEqual(inMillis(await reference.files('1/1')));
    await bothWrite(run, reference, [entry('1/1', 'old-3', { status: 'partial', endOffset: 1 })]);
    await bothWrite(run, reference, [entry('1/1', 'old-4', { size: 444 }), entry('1/1', 'new')]);
    await expectSame(t, reference, ['1/1']);
    expect(await run.compactFiles('1/1')).toMatchObject({ compacted: true, entries: 31, legacy: 30 });
    expect(await t.db.collection(LEDGER).countDocuments({ kind: 'file' })).toBe(0);
    await expectSame(t, reference, ['1/1']);
  });
});

describe('imports over the packed ledger', () => {
  it('an unchanged re-run writes nothing to the ledger but its session; status answers from the summary, as from the entries', async () => {
    const t = await freshDb('ledger_rerun_writes');
    const tree = await synthetic(12, 3);
    const first = await importInto(t, tree.root);
    expect(first.totals.rejected).toBe(0);
    const ledger = t.db.collection(LEDGER);
    const notSessions = { kind: { $ne: 'session' } };
    const before = await ledger.find(notSessions).toArray();
    // The whole ledger of 48 files: a digest head and one part.
    expect(before.map((doc) => doc.kind).sort()).toEqual(['digest', 'digest-part']);
    const second = await importInto(t, tree.root);
    expect(second.files.skippedUnchanged).toBe(48);
    expect(await ledger.find(notSessions).toArray()).toEqual(before);
    expect(await ledger.countDocuments({ kind: 'session' })).toBe(2);

    const store = new LedgerStore(t.db, LEDGER);
    const entries = await store.allFiles();
    expect(entries).toHaveLength(48);
    expect(await store.fileStatusCounts()).toEqual(statusRows(entries));
  });

  it('a re-run skips exactly the files that did not change, whichever way they changed', async () => {
    const t = await freshDb('ledger_rerun_skips');
    const tree = await synthetic(10, 3);
    await importInto(t, tree.root);
    const total = 40;
    // A state file touched (mtime only), an approvals file rewritten longer, a log grown, a manifest rewritten same size.
    const at = new Date(Date.UTC(2030, 0, 1));
    await utimes(path.join(tree.root, `state/runs/${tree.runId(1)}.json`), at, at);
    await appendFile(path.join(tree.root, `state/approvals/${tree.runId(2)}.json`), '\n');
    await tree.appendLogLines(3, 2);
    const manifest = path.join(tree.root, `artifacts/${tree.runId(4)}/artifact-manifest.json`);
    const { readFile } = await import('node:fs/promises');
    await writeFile(manifest, await readFile(manifest));
    await utimes(manifest, at, at);
    const second = await importInto(t, tree.root);
    expect(second.files.skippedUnchanged).toBe(total - 4);
    expect(second.totals.inserted).toBe(2);
    const third = await importInto(t, tree.root);
    expect(third.files.skippedUnchanged).toBe(total);
    // Changed options make every file due again.
    const fourth = await importInto(t, tree.root, { enumStyle: 'pascal' });
    expect(fourth.files.skippedUnchanged).toBe(0);
  });

  it('status sums the journals a run left before its compaction, as the entries say', async () => {
    const t = await freshDb('ledger_journals_status');
    const run = new LedgerStore(t.db, LEDGER);
    await run.loadFiles('1/1');
    await run.writeFiles([entry('1/1', 'a'), entry('1/1', 'b', { status: 'partial', records: 0 })]);
    await run.compactFiles('1/1');
    // A run killed before its compaction: journals on top of the digest.
    const killed = new LedgerStore(t.db, LEDGER);
    await killed.loadFiles('1/1');
    await killed.writeFiles([entry('1/1', 'b', { status: 'done', records: 7 })]);
    await killed.writeFiles([entry('1/1', 'c', { status: 'done-with-issues', rejected: 1, role: 'approvals' })]);
    const ledger = t.db.collection(LEDGER);
    expect(await ledger.countDocuments({ kind: 'journal' })).toBe(2);
    const store = new LedgerStore(t.db, LEDGER);
    const entries = await store.allFiles();
    expect(entries.map((e) => `${e.path} ${e.status}`).sort()).toEqual(['approvals/c done-with-issues', 'logs/a done', 'logs/b done']);
    expect(await store.fileStatusCounts()).toEqual(statusRows(entries));
  });

  it('an import stopped under an earlier version (one ledger document per file) is resumed from those documents', async () => {
    const t = await freshDb('ledger_legacy_resume');
    const tree = await synthetic(8, 200);
    await stoppedImport(t, tree.root, 20);
    // The ledger as an earlier version would have left it: the same entries, one document per file.
    const ledger = t.db.collection(LEDGER);
    const entries = await new LedgerStore(t.db, LEDGER).allFiles();
    expect(entries.some((e) => e.status === 'partial' || e.status === 'done')).toBe(true);
    await ledger.deleteMany({ kind: { $in: ['journal', 'digest', 'digest-part'] } });
    await ledger.insertMany(entries as unknown as Document[]);
    expect(inMillis(await new LedgerStore(t.db, LEDGER).loadFiles('1/1'))).toEqual(inMillis(new Map(entries.map((e) => [e._id, e]))));

    const resumed = await importInto(t, tree.root);
    expect(resumed.complete).toBe(true);
    expect(resumed.files.skippedUnchanged).toBe(entries.filter((e) => e.status === 'done').length);
    expect(resumed.totals.rejected + resumed.totals.conflict).toBe(0);
    expect(await ledger.countDocuments({ kind: 'file' }), 'folded into the digest').toBe(0);
    const clean = await freshDb('ledger_legacy_clean');
    await importInto(clean, tree.root);
    expect(dumpText(await dumpDatabase(t.db))).toBe(dumpText(await dumpDatabase(clean.db)));
    expect(await importInto(t, tree.root)).toMatchObject({ files: { skippedUnchanged: 32 } });
  });

  it('an import stopped midway leaves its entries folded into the digest; the next run resumes from them', async () => {
    const t = await freshDb('ledger_interrupted');
    const tree = await synthetic(8, 200);
    const report = await stoppedImport(t, tree.root, 20);
    expect(report.complete).toBe(false);
    const ledger = t.db.collection(LEDGER);
    expect(await ledger.countDocuments({ kind: 'journal' })).toBe(0);
    expect(await ledger.countDocuments({ kind: 'digest' })).toBe(1);
    const store = new LedgerStore(t.db, LEDGER);
    const entries = await store.allFiles();
    expect(entries.length).toBeGreaterThan(0);
    expect(await store.fileStatusCounts()).toEqual(statusRows(entries));
    const second = await importInto(t, tree.root);
    expect(second.complete).toBe(true);
    expect(second.files.skippedUnchanged).toBeGreaterThan(0);
    expect(second.totals.inserted + second.totals.unchanged).toBeGreaterThan(0);
    const after = new LedgerStore(t.db, LEDGER);
    expect(await after.fileStatusCounts()).toEqual(statusRows(await after.allFiles()));
    expect(await importInto(t, tree.root)).toMatchObject({ files: { skippedUnchanged: 32 } });
  });
});
