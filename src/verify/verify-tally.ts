import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import type { Rejection } from '../domain/outcomes.js';
import {
  emptyVerifyCounts,
  isCleanCounts,
  type ExtraRuns,
  type RunVerification,
  type VerifyCounts,
} from '../report/verify-report.js';
import type { RecordOrigin } from '../domain/pending-record.js';
import type { Verdict } from './classify-document.js';

/** How many entries of each kind (missing, mismatched, ...) one run lists. */
export const DETAILS_PER_RUN = 5;
/** How many detail entries the whole report lists, all runs together (the counts stay exact). */
export const DEFAULT_VERIFY_DETAIL_LIMIT = 2000;
/** How many runs that are not clean the report lists in full. */
export const DEFAULT_VERIFY_RUN_LIMIT = 1000;
/** How many extra runs (only in the database) the report names. */
export const EXTRA_RUNS_LISTED = 50;

/** What the tally keeps per run: the report's row without its runId (the map key). */
type RunState = Omit<RunVerification, 'runId'>;

/** Rejections waiting to be attributed to a run: by file stem (or artifact folder), resolved at the end. */
interface PendingRejections {
  counts: Record<CollectionRole, number>;
  accepted: Record<CollectionRole, number>;
  /** Per reason code: [not accepted, accepted]. */
  reasons: Map<string, [number, number]>;
  details: Rejection[];
}

/**
 * What verify found, run by run. Memory is one small record per run (counts, and at most a few
 * details while the global detail budget lasts): never documents, never a collection's keys.
 */
export class VerifyTally {
  private readonly runs = new Map<string, RunState>();
  private readonly pending = new Map<string, PendingRejections>();
  private readonly rejectedByReason = new Map<string, number>();
  private readonly acceptedByReason = new Map<string, number>();
  private readonly extraRunDocuments = new Map<string, Record<CollectionRole, number>>();
  private details = 0;
  /** True when a detail was not listed because a limit was reached. */
  detailsTruncated = false;

  constructor(private readonly detailLimit = DEFAULT_VERIFY_DETAIL_LIMIT) {}

  has(runId: string): boolean {
    return this.runs.has(runId);
  }

  counts(runId: string, role: CollectionRole): VerifyCounts {
    return this.run(runId).collections[role];
  }

  /** One source record of `runId`, and what the database holds for it. */
  verdict(role: CollectionRole, runId: string, key: string, origin: RecordOrigin, verdict: Verdict): void {
    const run = this.run(runId);
    const counts = run.collections[role];
    counts.expected += 1;
    if (verdict.kind !== 'missing') counts.found += 1;
    switch (verdict.kind) {
      case 'match':
        return;
      case 'missing':
        counts.missing += 1;
        this.keep(run.missing, { collection: role, key });
        return;
      case 'keptNewer':
        counts.keptNewer += 1;
        this.keep(run.keptNewer, {
          collection: role,
          key,
          file: origin.file,
          fileVersion: verdict.fileVersion,
          databaseVersion: verdict.databaseVersion,
        });
        return;
      case 'mismatch':
        counts.mismatched += 1;
        this.keep(run.mismatches, {
          collection: role,
          key,
          file: origin.file,
          ...(origin.line === undefined ? {} : { line: origin.line }),
          fields: verdict.fields,
          differences: verdict.differences,
        });
        return;
    }
  }

  /** A database document of a source run whose key the source does not hold. */
  extra(role: CollectionRole, runId: string, key: string): void {
    const run = this.run(runId);
    run.collections[role].extra += 1;
    this.keep(run.extras, { collection: role, key });
  }

  /** Extra documents beyond the ones listed (the first few are named, the rest only counted). */
  unlistedExtras(role: CollectionRole, runId: string, count: number): void {
    this.run(runId).collections[role].extra += count;
    if (count > 0) this.detailsTruncated = true;
  }

  /** Sets a run's extra count from totals (no keys), replacing any extras counted key by key. */
  countedExtras(role: CollectionRole, runId: string, count: number, note: string): void {
    const run = this.run(runId);
    const dropped = run.extras.filter((extra) => extra.collection === role).length;
    run.extras = run.extras.filter((extra) => extra.collection !== role);
    this.details -= dropped;
    run.collections[role].extra = count;
    if (count > 0) run.notes.push(note);
  }

  /** Documents of a run the source does not hold at all. */
  extraRun(runId: string, role: CollectionRole, documents: number): void {
    let counts = this.extraRunDocuments.get(runId);
    if (!counts) this.extraRunDocuments.set(runId, (counts = { runs: 0, logs: 0, approvals: 0, artifacts: 0 }));
    counts[role] += documents;
  }

  /** A source rejection, attributed later (`attributeRejections`) to the run its file name resolves to. */
  rejection(attribution: string, rejection: Rejection): void {
    let entry = this.pending.get(attribution);
    if (!entry) this.pending.set(attribution, (entry = { counts: { runs: 0, logs: 0, approvals: 0, artifacts: 0 }, accepted: { runs: 0, logs: 0, approvals: 0, artifacts: 0 }, reasons: new Map(), details: [] }));
    if (rejection.accepted) entry.accepted[rejection.collection] += 1;
    else entry.counts[rejection.collection] += 1;
    if (entry.details.length < DETAILS_PER_RUN) entry.details.push(rejection);
    const reason = entry.reasons.get(rejection.reason) ?? [0, 0];
    reason[rejection.accepted ? 1 : 0] += 1;
    entry.reasons.set(rejection.reason, reason);
  }

  /** Rejections per reason code, not accepted and accepted, of the runs in scope (after `attributeRejections`). */
  rejectionReasons(): { rejected: Record<string, number>; accepted: Record<string, number> } {
    return { rejected: Object.fromEntries(this.rejectedByReason), accepted: Object.fromEntries(this.acceptedByReason) };
  }

  /**
   * Puts the rejections on their runs. `resolve` turns a file stem into the run it belongs to (and
   * a note when that is not a plain match); `inScope` says whether that run is being verified.
   */
  attributeRejections(
    resolve: (attribution: string) => { runId: string; candidates: string[]; note?: string },
    inScope: (runIds: readonly string[]) => boolean,
  ): void {
    for (const [attribution, entry] of this.pending) {
      const resolved = resolve(attribution);
      if (!inScope(resolved.candidates)) continue;
      const run = this.run(resolved.runId);
      for (const role of COLLECTION_ROLES) {
        run.collections[role].rejected += entry.counts[role];
        run.collections[role].accepted += entry.accepted[role];
      }
      for (const [reason, [rejected, accepted]] of entry.reasons) {
        if (rejected > 0) this.rejectedByReason.set(reason, (this.rejectedByReason.get(reason) ?? 0) + rejected);
        if (accepted > 0) this.acceptedByReason.set(reason, (this.acceptedByReason.get(reason) ?? 0) + accepted);
      }
      for (const rejection of entry.details) this.keep(run.rejections, rejection);
      if (resolved.note && !run.notes.includes(resolved.note)) run.notes.push(resolved.note);
    }
    this.pending.clear();
  }

  /** Totals per collection (extra runs' documents included in `extra`). */
  totals(): Record<CollectionRole, VerifyCounts> {
    const totals = Object.fromEntries(COLLECTION_ROLES.map((role) => [role, emptyVerifyCounts()])) as Record<CollectionRole, VerifyCounts>;
    for (const run of this.runs.values()) {
      for (const role of COLLECTION_ROLES) addCounts(totals[role], run.collections[role]);
    }
    for (const documents of this.extraRunDocuments.values()) {
      for (const role of COLLECTION_ROLES) totals[role].extra += documents[role];
    }
    return totals;
  }

  /**
   * The runs that are not clean, at most `limit`: the failing ones first (missing or mismatched),
   * then those with extra or newer documents, then those with rejections only; by runId within each.
   * Also how many runs there are of each kind.
   */
  runSummary(limit = DEFAULT_VERIFY_RUN_LIMIT): { checked: number; clean: number; notClean: RunVerification[]; notCleanCount: number; truncated: boolean } {
    const notClean: Array<{ runId: string; severity: number }> = [];
    for (const [runId, run] of this.runs) {
      if (!COLLECTION_ROLES.every((role) => isCleanCounts(run.collections[role]))) notClean.push({ runId, severity: severityOf(run) });
    }
    notClean.sort((a, b) => a.severity - b.severity || compareText(a.runId, b.runId));
    const listed = notClean.slice(0, limit).map(({ runId }) => {
      const run = this.runs.get(runId) as RunState;
      return { runId, ...run };
    });
    return {
      checked: this.runs.size,
      clean: this.runs.size - notClean.length,
      notClean: listed,
      notCleanCount: notClean.length,
      truncated: notClean.length > limit,
    };
  }

  isExtraRun(runId: string): boolean {
    return this.extraRunDocuments.has(runId);
  }

  extraRuns(listedLimit = EXTRA_RUNS_LISTED): ExtraRuns {
    const ids = [...this.extraRunDocuments.keys()].sort(compareText);
    return {
      count: ids.length,
      listed: ids.slice(0, listedLimit).map((runId) => ({ runId, documents: { ...(this.extraRunDocuments.get(runId) as Record<CollectionRole, number>) } })),
      truncated: ids.length > listedLimit,
    };
  }

  private run(runId: string): RunState {
    let run = this.runs.get(runId);
    if (!run) {
      run = {
        collections: Object.fromEntries(COLLECTION_ROLES.map((role) => [role, emptyVerifyCounts()])) as Record<CollectionRole, VerifyCounts>,
        missing: [],
        mismatches: [],
        keptNewer: [],
        extras: [],
        rejections: [],
        notes: [],
      };
      this.runs.set(runId, run);
    }
    return run;
  }

  private keep<T>(list: T[], item: T): void {
    if (list.length < DETAILS_PER_RUN && this.details < this.detailLimit) {
      list.push(item);
      this.details += 1;
    } else {
      this.detailsTruncated = true;
    }
  }
}

/** 0: something missing, mismatched or rejected; 1: extra or kept-newer documents; 2: accepted rejections only. */
function severityOf(run: RunState): number {
  const counts = COLLECTION_ROLES.map((role) => run.collections[role]);
  if (counts.some((c) => c.missing > 0 || c.mismatched > 0 || c.rejected > 0)) return 0;
  if (counts.some((c) => c.extra > 0 || c.keptNewer > 0)) return 1;
  return 2;
}

function addCounts(into: VerifyCounts, from: VerifyCounts): void {
  into.expected += from.expected;
  into.found += from.found;
  into.missing += from.missing;
  into.mismatched += from.mismatched;
  into.keptNewer += from.keptNewer;
  into.extra += from.extra;
  into.rejected += from.rejected;
  into.accepted += from.accepted;
}

/** Code-point order, the same on every machine (not locale-dependent). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
