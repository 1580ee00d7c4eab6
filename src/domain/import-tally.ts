import { COLLECTION_ROLES, type CollectionRole } from './collection-roles.js';
import { OUTCOMES, type Conflict, type KeptNewer, type Outcome, type OutcomeCounts, type Rejection, type WarningCode, type WarningEntry } from './outcomes.js';
import { RejectionAcceptance } from './rejection-acceptance.js';

/** How many rejections, conflicts and kept-newer keys the report lists in full (all are counted). */
export const DEFAULT_DETAIL_LIMIT = 1000;

export function emptyCounts(): OutcomeCounts {
  return Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])) as OutcomeCounts;
}

/**
 * Accumulates outcomes while a run proceeds. Counts are exact; the detail lists stop at a limit so
 * a tree with millions of bad lines cannot exhaust memory (the --rejects file has them all).
 */
export class ImportTally {
  readonly counts: Record<CollectionRole, OutcomeCounts> = Object.fromEntries(
    COLLECTION_ROLES.map((role) => [role, emptyCounts()]),
  ) as Record<CollectionRole, OutcomeCounts>;
  readonly rejections: Rejection[] = [];
  /** Rejections that matched an accepted one (`--accept-rejections`), listed like the others. */
  readonly accepted: Rejection[] = [];
  readonly conflicts: Conflict[] = [];
  readonly keptNewer: KeptNewer[] = [];
  readonly orphanRunIds = new Set<string>();
  private readonly warnings = new Map<string, WarningEntry>();

  constructor(
    private readonly detailLimit = DEFAULT_DETAIL_LIMIT,
    private readonly onRejection?: (rejection: Rejection) => void,
    private readonly acceptance: RejectionAcceptance = RejectionAcceptance.none(),
  ) {}

  count(role: CollectionRole, outcome: Outcome, n = 1): void {
    this.counts[role][outcome] += n;
  }

  reject(rejection: Rejection): void {
    if (this.acceptance.accepts(rejection)) {
      const accepted: Rejection = { ...rejection, accepted: true };
      this.count(rejection.collection, 'accepted');
      if (this.accepted.length < this.detailLimit) this.accepted.push(accepted);
      this.onRejection?.(accepted);
      return;
    }
    this.count(rejection.collection, 'rejected');
    if (this.rejections.length < this.detailLimit) this.rejections.push(rejection);
    this.onRejection?.(rejection);
  }

  /** Records rejected so far, accepted or not: what the reader met (the ledger and checkpoints look at this). */
  rejectionsSeen(): number {
    return this.total('rejected') + this.total('accepted');
  }

  /** Accepted entries that matched no rejection of this run. */
  unusedAcceptances(): number {
    return this.acceptance.unused();
  }

  conflict(conflict: Conflict): void {
    this.count(conflict.collection, 'conflict');
    if (this.conflicts.length < this.detailLimit) this.conflicts.push(conflict);
  }

  keepNewer(entry: KeptNewer): void {
    this.count(entry.collection, 'keptNewer');
    if (this.keptNewer.length < this.detailLimit) this.keptNewer.push(entry);
  }

  warn(code: WarningCode, message: string): void {
    const key = `${code}\u0000${message}`;
    const entry = this.warnings.get(key);
    if (entry) entry.count += 1;
    else this.warnings.set(key, { code, message, count: 1 });
  }

  warningList(): WarningEntry[] {
    return [...this.warnings.values()];
  }

  /** Adds another tally (a batch's, kept apart until the batch succeeded) into this one. */
  merge(other: ImportTally): void {
    for (const role of COLLECTION_ROLES) {
      for (const outcome of OUTCOMES) {
        if (outcome === 'rejected' || outcome === 'accepted' || outcome === 'conflict' || outcome === 'keptNewer') continue;
        this.counts[role][outcome] += other.counts[role][outcome];
      }
    }
    for (const rejection of [...other.rejections, ...other.accepted]) this.reject(rejection);
    for (const conflict of other.conflicts) this.conflict(conflict);
    for (const entry of other.keptNewer) this.keepNewer(entry);
    for (const runId of other.orphanRunIds) this.orphanRunIds.add(runId);
    for (const warning of other.warnings.values()) {
      for (let i = 0; i < warning.count; i++) this.warn(warning.code, warning.message);
    }
  }

  total(outcome: Outcome): number {
    return COLLECTION_ROLES.reduce((sum, role) => sum + this.counts[role][outcome], 0);
  }
}
