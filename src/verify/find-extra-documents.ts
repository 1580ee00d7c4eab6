import type { Db, Document, Filter } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import { findWhereIn } from '../server/server-commands.js';
import type { ReadStrategy } from '../server/server-profile.js';
import { keepSmallestKeys } from './collection-scan.js';
import type { RunSelection } from './run-selection.js';
import { VERIFY_SPECS, keyWithinRun } from './verify-keys.js';
import { READ_OPTIONS, type VerifySink } from './verify-sink.js';
import { DETAILS_PER_RUN, type VerifyTally } from './verify-tally.js';

const KEYED_ROLES = ['logs', 'approvals', 'artifacts'] as const;
type KeyedRole = (typeof KEYED_ROLES)[number];

/**
 * After the source is read: the database documents nobody expected that the file-by-file pass
 * could not see. Runs of the source with no file of a collection get all their documents of it
 * counted as extra (the first few keys named); runs the source does not hold at all are extra
 * runs; runs whose records came from several files get their extras counted from totals. With
 * `--run` or `--sample`, only the selected runIds are looked at.
 *
 * Where the counts per runId come from depends on how the sink read (`VerifySink.mode`):
 * - `scan`: the scans already read every document; nothing more is read;
 * - `per-run` with a selection, where equality queries are the cheap ones (`run-each`): one query
 *   per selected run and collection (its keys), no pass over the whole collection;
 * - otherwise one aggregation per collection counts documents per runId (`$group` with `$sum`,
 *   which every server in the profile supports), streamed, and the `pack_runs` ids are streamed
 *   (projection on `_id` only).
 */
export async function findExtraDocuments(
  db: Db,
  collections: CollectionNames,
  sink: VerifySink,
  tally: VerifyTally,
  selection: RunSelection,
  /** The runIds in scope, or undefined for all. */
  selected: readonly string[] | undefined,
  reads: Pick<ReadStrategy, 'lookup' | 'runEachLimit'>,
): Promise<void> {
  const classify = async (role: KeyedRole, runId: string, count: number, listNone: () => Promise<void>): Promise<void> => {
    if (!sink.sourceRunIds.has(runId)) {
      tally.extraRun(runId, role, count);
      return;
    }
    if (!selection.includes(runId)) return;
    switch (sink.extrasState(role, runId)) {
      case 'exact':
        return;
      case 'counted': {
        const found = tally.counts(runId, role).found;
        tally.countedExtras(role, runId, Math.max(0, count - found), `${role}: extra documents counted from totals (the run's records come from several files); keys not listed`);
        return;
      }
      case 'none':
        await listNone();
        return;
    }
  };

  if (sink.mode === 'scan') {
    const inScope = selected ? new Set(selected) : undefined;
    for (const role of KEYED_ROLES) {
      const scan = sink.scanOf(role);
      if (!scan) throw new Error(`verify: the scan of ${role} did not finish`);
      // A $match on the selected runIds would leave documents without a string runId out.
      if (!inScope) for (const [label, count] of scan.otherRunIds) tally.extraRun(label, role, count);
      for (const [runId, count] of scan.documentsPerRun) {
        if (inScope && !inScope.has(runId)) continue;
        await classify(role, runId, count, async () => listExtras(tally, role, runId, count, scan.smallestKeys(runId)));
      }
    }
    const runs = sink.scanOf('runs');
    if (!runs) throw new Error('verify: the scan of runs did not finish');
    for (const [runId, count] of runs.documentsPerRun) {
      if (inScope && !inScope.has(runId)) continue;
      if (!sink.sourceRunIds.has(runId)) tally.extraRun(runId, 'runs', count);
    }
    return;
  }

  if (selected && reads.lookup === 'run-each') {
    for (const role of KEYED_ROLES) {
      for (const runId of selected) {
        if (sink.sourceRunIds.has(runId) && sink.extrasState(role, runId) === 'exact') continue;
        const { count, smallest } = await keysOfRun(db, collections, role, runId);
        if (count === 0) continue;
        await classify(role, runId, count, async () => listExtras(tally, role, runId, count, smallest));
      }
    }
  } else {
    for (const role of KEYED_ROLES) {
      const collection = db.collection(collections[role]);
      const pipeline: Document[] = [
        ...(selected ? [{ $match: { runId: { $in: [...selected] } } }] : []),
        { $group: { _id: '$runId', n: { $sum: 1 } } },
      ];
      for await (const group of collection.aggregate<{ _id: unknown; n: number | bigint }>(pipeline, READ_OPTIONS)) {
        const count = Number(group.n);
        if (typeof group._id !== 'string') {
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a runId that is not a string is a number or an ObjectId in practice, which print their value
          tally.extraRun(`(runId ${group._id === null || group._id === undefined ? 'missing' : JSON.stringify(String(group._id))})`, role, count);
          continue;
        }
        await classify(role, group._id, count, async () => listAllAsExtra(db, collections, tally, role, group._id as string, count));
      }
    }
  }

  const runs = db.collection(collections.runs);
  const stored = selected ? findWhereIn(runs, '_id', selected, reads) : runs.find({}, { ...READ_OPTIONS, projection: { _id: 1 } });
  for await (const doc of stored) {
    const runId = String(doc._id);
    if (!sink.sourceRunIds.has(runId)) tally.extraRun(runId, 'runs', 1);
  }
}

/** A source run with no records of this collection: every document of it is extra (the smallest keys named). */
function listExtras(tally: VerifyTally, role: KeyedRole, runId: string, count: number, smallest: readonly unknown[]): void {
  for (const value of smallest) tally.extra(role, runId, keyWithinRun(role, { [VERIFY_SPECS[role].keyField]: value }));
  if (count > smallest.length) tally.unlistedExtras(role, runId, count - smallest.length);
}

/** One run's documents of a collection: how many, and the smallest keys (one query, pushed down where equality is). */
async function keysOfRun(db: Db, collections: CollectionNames, role: KeyedRole, runId: string): Promise<{ count: number; smallest: unknown[] }> {
  const keyField = VERIFY_SPECS[role].keyField;
  const smallest: unknown[] = [];
  let count = 0;
  const cursor = db.collection(collections[role]).find({ runId } as Filter<Document>, { ...READ_OPTIONS, projection: { [keyField]: 1, _id: 0 } });
  for await (const doc of cursor) {
    count += 1;
    keepSmallestKeys(smallest, doc[keyField]);
  }
  return { count, smallest };
}

/** A source run with no records of this collection: every document of it is extra. */
async function listAllAsExtra(
  db: Db,
  collections: CollectionNames,
  tally: VerifyTally,
  role: KeyedRole,
  runId: string,
  count: number,
): Promise<void> {
  const keyField = VERIFY_SPECS[role].keyField;
  const cursor = db
    .collection(collections[role])
    .find({ runId } as Filter<Document>, { ...READ_OPTIONS, projection: { [keyField]: 1, _id: 0 } })
    .sort({ [keyField]: 1 })
    .limit(DETAILS_PER_RUN);
  let listed = 0;
  for await (const doc of cursor) {
    tally.extra(role, runId, keyWithinRun(role, doc));
    listed += 1;
  }
  if (count > listed) tally.unlistedExtras(role, runId, count - listed);
}
