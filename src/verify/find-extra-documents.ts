import type { Db, Document, Filter } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import type { RunSelection } from './run-selection.js';
import { VERIFY_SPECS, keyWithinRun } from './verify-keys.js';
import { READ_OPTIONS, type VerifySink } from './verify-sink.js';
import { DETAILS_PER_RUN, type VerifyTally } from './verify-tally.js';

const KEYED_ROLES = ['logs', 'approvals', 'artifacts'] as const;

/**
 * After the source is read: the database documents nobody expected that the file-by-file pass
 * could not see. Per collection, one aggregation counts documents per runId (`$group` with `$sum`,
 * which every server in the profile supports), streamed: runs of the source with no file of that collection get
 * all their documents counted as extra (the first few keys named); runs the source does not hold
 * at all are extra runs. Then the `pack_runs` ids are streamed (projection on `_id` only). With
 * `--run` or `--sample`, only the selected runIds are looked at.
 */
export async function findExtraDocuments(
  db: Db,
  collections: CollectionNames,
  sink: VerifySink,
  tally: VerifyTally,
  selection: RunSelection,
  /** The runIds in scope, or undefined for all. */
  selected: readonly string[] | undefined,
): Promise<void> {
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
      const runId = group._id;
      if (!sink.sourceRunIds.has(runId)) {
        tally.extraRun(runId, role, count);
        continue;
      }
      if (!selection.includes(runId)) continue;
      switch (sink.extrasState(role, runId)) {
        case 'exact':
          break;
        case 'counted': {
          const found = tally.counts(runId, role).found;
          tally.countedExtras(role, runId, Math.max(0, count - found), `${role}: extra documents counted from totals (the run's records come from several files); keys not listed`);
          break;
        }
        case 'none':
          await listAllAsExtra(db, collections, tally, role, runId, count);
          break;
      }
    }
  }

  const runs = db.collection(collections.runs);
  const filter = (selected ? { _id: { $in: [...selected] } } : {}) as unknown as Filter<Document>;
  for await (const doc of runs.find(filter, { ...READ_OPTIONS, projection: { _id: 1 } })) {
    const runId = String(doc._id);
    if (!sink.sourceRunIds.has(runId)) tally.extraRun(runId, 'runs', 1);
  }
}

/** A source run with no records of this collection: every document of it is extra. */
async function listAllAsExtra(
  db: Db,
  collections: CollectionNames,
  tally: VerifyTally,
  role: (typeof KEYED_ROLES)[number],
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
