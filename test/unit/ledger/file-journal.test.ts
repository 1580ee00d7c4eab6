import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  PACKED_BYTES_LIMIT,
  decodeEntries,
  digestHeadId,
  encodeEntries,
  fileEntryId,
  pack,
  planCompaction,
  resolvePartition,
  statusRows,
  type CompactionStep,
  type DigestHead,
  type DigestPart,
  type JournalDocument,
} from '../../../src/ledger/file-journal.js';
import type { LedgerFileEntry } from '../../../src/ledger/ledger-types.js';
import { asStored } from '../../helpers/ledger-entries.js';
import { COLLECTION_ROLES } from '../../../src/domain/collection-roles.js';

function entry(partition: string, path: string, overrides: Partial<LedgerFileEntry> = {}): LedgerFileEntry {
  const role = overrides.role ?? 'logs';
  return {
    _id: fileEntryId(partition, { role, relativePath: path }),
    kind: 'file',
    partition,
    role,
    path,
    size: 1234,
    mtimeMs: 1_796_001_290_012.697,
    sha256: 'ab'.repeat(32),
    endOffset: 1234,
    nextLine: 9,
    status: 'done',
    hashedTo: 1234,
    records: 8,
    rejected: 0,
    runId: 'run-1',
    optionsKey: 'v1|enum=canonical|a,b,c,d',
    sessionId: '00000000-0000-4000-8000-000000000000',
    updatedAt: new Date(1_796_001_300_000),
    ...overrides,
  };
}

const arbitraryFields = fc.record({
  size: fc.nat(),
  mtimeMs: fc.double({ min: 0, max: 4e12, noNaN: true, noDefaultInfinity: true }),
  sha256: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/), { nil: null }),
  endOffset: fc.nat(),
  nextLine: fc.nat(),
  status: fc.constantFrom('done' as const, 'done-with-issues' as const, 'partial' as const),
  hashedTo: fc.option(fc.nat(), { nil: null }),
  records: fc.nat(),
  rejected: fc.nat(),
  runId: fc.option(fc.string(), { nil: null }),
  optionsKey: fc.string(),
  sessionId: fc.uuid(),
  updatedAt: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
});

const arbitraryEntry = fc
  .record({
    partition: fc.constantFrom('1/1', '2/3', '10/10'),
    role: fc.constantFrom(...COLLECTION_ROLES),
    // Any path: newlines, quotes, non-BMP characters.
    path: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
    fields: arbitraryFields,
  })
  .map(({ partition, path, role, fields }) => entry(partition, path, { role, ...fields }));

describe('the packed ledger file entries', () => {
  it('decode to the entries they encode, field for field (property)', () => {
    fc.assert(
      fc.property(fc.array(arbitraryEntry, { maxLength: 30 }), (entries) => {
        const byPartition = new Map<string, LedgerFileEntry[]>();
        for (const e of entries) byPartition.set(e.partition, [...(byPartition.get(e.partition) ?? []), e]);
        for (const [partition, list] of byPartition) {
          expect(encodeEntries(list).flatMap((block) => decodeEntries(partition, block))).toEqual(list.map(asStored));
        }
      }),
    );
  });

  it('stores undefined as null, as the driver did for a per-file document', () => {
    const withUndefined = { ...entry('1/1', 'logs/a.ndjson'), hashedTo: undefined, runId: undefined };
    const [decoded] = decodeEntries('1/1', encodeEntries([withUndefined])[0] as Buffer);
    expect(decoded?.hashedTo).toBeNull();
    expect(decoded?.runId).toBeNull();
  });

  it('splits into blocks whose raw size stays under the limit, keeping the order', () => {
    const big = 'x'.repeat(200_000);
    const entries = Array.from({ length: 60 }, (_, i) => entry('1/1', `logs/${String(i).padStart(3, '0')}-${big}.ndjson`));
    const blocks = encodeEntries(entries);
    expect(blocks.map((block) => decodeEntries('1/1', block).length).every((n) => n * 200_000 <= PACKED_BYTES_LIMIT)).toBe(true);
    expect(blocks.flatMap((block) => decodeEntries('1/1', block)).map((e) => e.path)).toEqual(entries.map((e) => e.path));
    expect(blocks.length).toBeGreaterThanOrEqual(Math.ceil((60 * 200_000) / PACKED_BYTES_LIMIT));
  });

  it('summarize per partition, kind and status in the order status prints', () => {
    const rows = statusRows([
      entry('2/2', 'logs/a', { records: 3 }),
      entry('1/2', 'logs/b', { records: 4, rejected: 1, status: 'done-with-issues' }),
      entry('1/2', 'logs/c', { records: 5 }),
      entry('1/2', 'runs/c', { role: 'runs', records: 1 }),
      entry('1/2', 'logs/d', { records: 6 }),
    ]);
    expect(rows).toEqual([
      { partition: '1/2', role: 'logs', status: 'done', files: 2, records: 11, rejected: 0 },
      { partition: '1/2', role: 'logs', status: 'done-with-issues', files: 1, records: 4, rejected: 1 },
      { partition: '1/2', role: 'runs', status: 'done', files: 1, records: 1, rejected: 0 },
      { partition: '2/2', role: 'logs', status: 'done', files: 1, records: 3, rejected: 0 },
    ]);
  });
});

// ---- The stored documents of one partition, in memory, and the steps of the ledger store on them.

const P = '1/1';
type Doc = LedgerFileEntry | JournalDocument | DigestHead | DigestPart;

class MemoryLedger {
  docs = new Map<string, Doc>();
  resolve(): ReturnType<typeof resolvePartition> {
    const all = [...this.docs.values()];
    return resolvePartition(P, {
      legacy: all.filter((doc): doc is LedgerFileEntry => doc.kind === 'file'),
      head: all.find((doc): doc is DigestHead => doc.kind === 'digest'),
      parts: all.filter((doc): doc is DigestPart => doc.kind === 'digest-part'),
      journals: all.filter((doc): doc is JournalDocument => doc.kind === 'journal'),
    });
  }
  /** Runs one step as the store does; `half`: a delete that stopped halfway. False: the head was not as expected. */
  run(step: CompactionStep, half = false): boolean {
    switch (step.op) {
      case 'insert-part':
        this.docs.set(step.part._id, step.part);
        return true;
      case 'switch-head': {
        const current = this.docs.get(digestHeadId(P)) as DigestHead | undefined;
        if ((current?.generation ?? null) !== step.expected) return false;
        this.docs.set(step.head._id, step.head);
        return true;
      }
      case 'delete-journals':
      case 'delete-legacy': {
        const ids = half ? step.ids.slice(0, Math.floor(step.ids.length / 2)) : step.ids;
        for (const id of ids) this.docs.delete(id);
        return true;
      }
      case 'delete-other-parts': {
        const doomed = [...this.docs.values()].filter((doc) => doc.kind === 'digest-part' && doc.generation !== step.generation);
        for (const doc of half ? doomed.slice(0, Math.floor(doomed.length / 2)) : doomed) this.docs.delete(doc._id);
        return true;
      }
    }
  }
}

/** What an importer's ledger store holds of the partition: as loaded, plus what it wrote since. */
class Session {
  base: Map<string, LedgerFileEntry>;
  written: LedgerFileEntry[][] = [];
  clock: number;
  journalIds: string[];
  legacyIds: string[];
  headGeneration: string | null;
  constructor(private readonly ledger: MemoryLedger, private readonly nextId: () => number) {
    const resolved = ledger.resolve();
    this.base = resolved.entries;
    this.clock = resolved.clock;
    this.journalIds = resolved.journalIds;
    this.legacyIds = resolved.legacyIds;
    this.headGeneration = (ledger.docs.get(digestHeadId(P)) as DigestHead | undefined)?.generation ?? null;
  }
  /** The same store's state over a copy of the documents. */
  over(ledger: MemoryLedger): Session {
    return Object.assign(Object.create(Session.prototype) as Session, { ...this, ledger, base: new Map(this.base), written: [...this.written], journalIds: [...this.journalIds], legacyIds: [...this.legacyIds] });
  }
  write(entries: LedgerFileEntry[]): void {
    for (const data of encodeEntries(entries)) {
      this.clock += 1 + (this.nextId() % 3);
      const journal: JournalDocument = { _id: `journal:${P}:${this.nextId()}`, kind: 'journal', partition: P, at: this.clock, sessionId: null, files: entries.length, data };
      this.ledger.docs.set(journal._id, journal);
      this.journalIds.push(journal._id);
    }
    this.written.push(entries);
  }
  /** Plans the compaction as the store does (its writes newest first, then its base); runs its first `stopAfter` steps (all if undefined), the next one halfway if `half`. */
  compact(stopAfter: number | undefined, half: boolean): { steps: number; done: boolean } {
    const current = new Map(this.base);
    for (const list of this.written) for (const e of list) current.set(e._id, e);
    const generation = `g${this.nextId()}`;
    const { steps } = planCompaction({ partition: P, layers: [...[...this.written].reverse().map((list) => list.map(pack)), [...this.base.values()].map(pack)], clock: this.clock, generation, expected: this.headGeneration, journalIds: this.journalIds, legacyIds: this.legacyIds, now: new Date(0) });
    const count = stopAfter === undefined ? steps.length : Math.min(stopAfter, steps.length);
    for (const [index, step] of steps.entries()) {
      if (index === count) {
        if (half) this.ledger.run(step, true);
        return { steps: steps.length, done: false };
      }
      if (!this.ledger.run(step)) return { steps: steps.length, done: false };
    }
    this.base = current;
    this.written = [];
    this.journalIds = [];
    this.legacyIds = [];
    this.headGeneration = generation;
    return { steps: steps.length, done: true };
  }
}

/** An entry as a per-file document would have held it, compared after packing (undefined stored as null). */
function normalized(entries: Map<string, LedgerFileEntry>): Array<[string, LedgerFileEntry]> {
  return [...entries.entries()].map(([id, e]): [string, LedgerFileEntry] => [id, asStored(e)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const PATHS = ['logs/a.ndjson', 'logs/b.ndjson', 'logs/c d.ndjson', 'runs/a.json', 'approvals/a.json', 'logs/é.ndjson'];
const arbitraryWrite = fc.array(
  fc.record({ path: fc.constantFrom(...PATHS), fields: arbitraryFields }).map(({ path, fields }) => entry(P, path, { role: path.startsWith('runs/') ? 'runs' : path.startsWith('approvals/') ? 'approvals' : 'logs', ...fields })),
  { minLength: 1, maxLength: 4 },
);
type Command = { kind: 'write'; entries: LedgerFileEntry[] } | { kind: 'compact'; stopAfter: number | undefined; half: boolean } | { kind: 'restart' };
const arbitraryCommand: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: arbitraryWrite.map((entries) => ({ kind: 'write' as const, entries })) },
  { weight: 2, arbitrary: fc.record({ stopAfter: fc.option(fc.nat({ max: 8 }), { nil: undefined }), half: fc.boolean() }).map((c) => ({ kind: 'compact' as const, ...c })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

describe('the packed ledger as the per-file model', () => {
  it('merges per-file documents, the digest, then later journals in `at` order', () => {
    const ledger = new MemoryLedger();
    // Per-file documents written before the digest (at 100) and the journals.
    const legacy = entry(P, 'logs/a.ndjson', { status: 'partial', endOffset: 10, updatedAt: new Date(50) });
    const old = entry(P, 'logs/b.ndjson', { records: 1, updatedAt: new Date(60) });
    ledger.docs.set(legacy._id, legacy);
    ledger.docs.set(old._id, old);
    const fromDigest = entry(P, 'logs/a.ndjson', { status: 'done', endOffset: 20 });
    const blocks = encodeEntries([fromDigest]);
    ledger.docs.set(digestHeadId(P), { _id: digestHeadId(P), kind: 'digest', partition: P, format: 1, generation: 'g1', parts: 1, entries: 1, at: 100, summary: [], writtenAt: new Date(0) });
    ledger.docs.set('part', { _id: 'part', kind: 'digest-part', partition: P, generation: 'g1', part: 0, data: blocks[0] as Buffer });
    const covered = entry(P, 'logs/c.ndjson');
    const later1 = entry(P, 'logs/a.ndjson', { status: 'partial', endOffset: 30 });
    const later2 = entry(P, 'logs/a.ndjson', { status: 'done', endOffset: 40 });
    const journal = (id: string, at: number, entries: LedgerFileEntry[]): JournalDocument => ({ _id: id, kind: 'journal', partition: P, at, sessionId: null, files: entries.length, data: encodeEntries(entries)[0] as Buffer });
    // Written in the other order than their ids sort: `at` decides.
    for (const doc of [journal('j-b', 100, [covered]), journal('j-a', 102, [later2]), journal('j-c', 101, [later1])]) ledger.docs.set(doc._id, doc);
    const resolved = ledger.resolve();
    expect(asStored(resolved.entries.get(legacy._id))).toEqual(asStored(later2));
    expect(asStored(resolved.entries.get(old._id))).toEqual(asStored(old));
    expect(resolved.entries.has(covered._id), 'a journal the digest covers is ignored').toBe(false);
    expect(resolved.clock).toBe(102);
    expect(resolved.journalIds.sort()).toEqual(['j-a', 'j-b', 'j-c']);
    // A head whose parts are not all there is ignored: every journal applies over the per-file documents.
    ledger.docs.delete('part');
    const incomplete = ledger.resolve();
    expect(incomplete.digest).toBeUndefined();
    expect(asStored(incomplete.entries.get(covered._id))).toEqual(asStored(covered));
    expect(asStored(incomplete.entries.get(legacy._id))).toEqual(asStored(later2));
  });

  it('a per-file document written after the digest or a journal (an earlier version run in between) wins over them; what is written next wins over it', () => {
    const ledger = new MemoryLedger();
    const fromDigest = entry(P, 'logs/a.ndjson', { status: 'done', endOffset: 20 });
    const blocks = encodeEntries([fromDigest, entry(P, 'logs/b.ndjson'), entry(P, 'logs/c.ndjson', { status: 'done' })]);
    ledger.docs.set(digestHeadId(P), { _id: digestHeadId(P), kind: 'digest', partition: P, format: 1, generation: 'g1', parts: 1, entries: 3, at: 1000, summary: [], writtenAt: new Date(1000) });
    ledger.docs.set('part', { _id: 'part', kind: 'digest-part', partition: P, generation: 'g1', part: 0, data: blocks[0] as Buffer });
    const journal = (id: string, at: number, entries: LedgerFileEntry[]): JournalDocument => ({ _id: id, kind: 'journal', partition: P, at, sessionId: null, files: entries.length, data: encodeEntries(entries)[0] as Buffer });
    const fromJournal = entry(P, 'logs/c.ndjson', { status: 'done', endOffset: 99 });
    ledger.docs.set('j-1', journal('j-1', 1500, [fromJournal]));
    // The earlier version found a conflict in a.ndjson and c.ndjson after the digest and the journal were written.
    const olderVersionA = entry(P, 'logs/a.ndjson', { status: 'done-with-issues', endOffset: 20, updatedAt: new Date(2000) });
    const olderVersionC = entry(P, 'logs/c.ndjson', { status: 'done-with-issues', endOffset: 99, updatedAt: new Date(2000) });
    // A per-file document older than the digest stays overlaid.
    const stale = entry(P, 'logs/b.ndjson', { status: 'partial', updatedAt: new Date(500) });
    for (const doc of [olderVersionA, olderVersionC, stale]) ledger.docs.set(doc._id, doc);
    const resolved = ledger.resolve();
    expect(resolved.entries.get(olderVersionA._id)?.status).toBe('done-with-issues');
    expect(resolved.entries.get(olderVersionC._id)?.status).toBe('done-with-issues');
    expect(resolved.entries.get(stale._id)?.status).toBe('done');
    // The next write comes after every per-file document, whatever the journals' clock said.
    expect(resolved.clock).toBe(2000);
    const next = entry(P, 'logs/a.ndjson', { status: 'done', endOffset: 30 });
    ledger.docs.set('j-2', journal('j-2', resolved.clock + 1, [next]));
    expect(asStored(ledger.resolve().entries.get(next._id))).toEqual(asStored(next));
  });

  it('compaction stopped after any step leaves a ledger that gives exactly the entries written', () => {
    const ledger = new MemoryLedger();
    const legacy = [entry(P, 'logs/a.ndjson', { status: 'partial' }), entry(P, 'runs/a.json', { role: 'runs' })];
    for (const e of legacy) ledger.docs.set(e._id, e);
    let id = 0;
    const session = new Session(ledger, () => ++id);
    session.write([entry(P, 'logs/a.ndjson', { status: 'done', records: 3 }), entry(P, 'logs/b.ndjson')]);
    session.write([entry(P, 'logs/b.ndjson', { status: 'partial', records: 0 })]);
    const expected = normalized(ledger.resolve().entries);
    // Here: one part, the head, journals, other parts, per-file documents.
    for (let stop = 0; stop <= 6; stop += 1) {
      for (const half of [false, true]) {
        const copy = new MemoryLedger();
        copy.docs = new Map(ledger.docs);
        const attempt = session.over(copy);
        expect(attempt.compact(stop, half)).toEqual({ steps: 5, done: stop >= 5 });
        expect(normalized(copy.resolve().entries), `stopped after ${stop} step(s)${half ? ', the next one halfway' : ''}`).toEqual(expected);
      }
    }
  });

  it('gives what the per-file model holds after any writes, compactions stopped anywhere and restarts (property)', () => {
    fc.assert(
      fc.property(fc.array(arbitraryWrite, { maxLength: 3 }), fc.array(arbitraryCommand, { minLength: 1, maxLength: 25 }), (legacyWrites, commands) => {
        const ledger = new MemoryLedger();
        const model = new Map<string, LedgerFileEntry>();
        for (const e of legacyWrites.flat()) {
          ledger.docs.set(e._id, e);
          model.set(e._id, e);
        }
        let id = 0;
        const nextId = (): number => ++id;
        let session = new Session(ledger, nextId);
        for (const command of commands) {
          if (command.kind === 'write') {
            session.write(command.entries);
            for (const e of command.entries) model.set(e._id, e);
          } else if (command.kind === 'compact') {
            const { done } = session.compact(command.stopAfter, command.half);
            // A compaction that stopped is a process that died: the next one loads afresh.
            if (!done) session = new Session(ledger, nextId);
          } else session = new Session(ledger, nextId);
          expect(normalized(ledger.resolve().entries)).toEqual(normalized(model));
        }
        // Completed, a compaction leaves one head, its parts and nothing else of the partition.
        session = new Session(ledger, nextId);
        if (session.compact(undefined, false).done) {
          const kinds = [...ledger.docs.values()].map((doc) => doc.kind);
          expect(kinds.filter((kind) => kind === 'file' || kind === 'journal')).toEqual([]);
          expect(kinds.filter((kind) => kind === 'digest')).toHaveLength(1);
          expect(normalized(ledger.resolve().entries)).toEqual(normalized(model));
          expect((ledger.docs.get(digestHeadId(P)) as DigestHead).summary).toEqual(statusRows(model.values()));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a second compaction from a stale read does not switch the head (two importers cannot both win)', () => {
    const ledger = new MemoryLedger();
    let id = 0;
    const first = new Session(ledger, () => ++id);
    first.write([entry(P, 'logs/a.ndjson')]);
    const stale = new Session(ledger, () => ++id);
    expect(first.compact(undefined, false).done).toBe(true);
    const before = normalized(ledger.resolve().entries);
    expect(stale.compact(undefined, false).done).toBe(false);
    expect(normalized(ledger.resolve().entries)).toEqual(before);
  });
});
