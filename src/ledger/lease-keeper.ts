import type { Logger } from 'pino';
import { BackfillRuntimeError } from '../errors.js';
import type { LedgerLease } from './ledger-types.js';
import type { LedgerStore } from './ledger-store.js';

/**
 * Holds one partition's import lease for as long as the import writes: takes it, renews it at a
 * third of its lifetime, and answers `assertHeld` before every write. A process that was stopped
 * (SIGSTOP, a VM pause, a long GC) past its lease's expiry may have been replaced by another
 * importer: it renews before writing again, and if the lease is gone it stops writing
 * (`LEASE_LOST`, exit 4: run the same command again) instead of writing beside the new holder.
 */
export class LeaseKeeper {
  /** Local-clock time (ms) after which the lease must be renewed before another write. */
  private safeUntil = 0;
  private lost = false;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly ledger: LedgerStore,
    private readonly lease: Omit<LedgerLease, '_id' | 'kind' | 'acquiredAt' | 'expiresAt'>,
    private readonly ttlMs: number,
    private readonly now: () => Date,
    private readonly logger: Logger,
  ) {}

  /** Takes the lease (or fails with LEASE_HELD) and starts renewing it. */
  async acquire(): Promise<void> {
    const started = this.now().getTime();
    await this.ledger.acquireLease({ ...this.lease, acquiredAt: new Date(started), expiresAt: new Date(started + this.ttlMs) }, new Date(started));
    this.renewed(started);
    this.timer = setInterval(() => void this.renew().catch(() => undefined), Math.max(1000, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /**
   * Resolves when this process still holds the lease with time to spare; renews first when the
   * last renewal is too old. Throws LEASE_LOST when another importer holds it now.
   */
  async assertHeld(): Promise<void> {
    if (!this.lost && this.now().getTime() >= this.safeUntil) await this.renew();
    if (this.lost) {
      throw new BackfillRuntimeError(
        'LEASE_LOST',
        `this import lost its lease on partition ${this.lease.partition} (it was stopped or cut off longer than --lease-ttl-seconds, ` +
          'and another importer may have taken over); it stopped writing. Everything written is kept: run the same command again.',
      );
    }
  }

  /** Stops renewing and gives the lease back (if it is still ours). */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing?.catch(() => undefined);
    if (!this.lost) await this.ledger.releaseLease(this.lease.partition, this.lease.sessionId).catch(() => undefined);
  }

  private renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.lost) return;
    const started = this.now().getTime();
    try {
      const held = await this.ledger.renewLease(this.lease.partition, this.lease.sessionId, new Date(started + this.ttlMs));
      if (held) {
        this.renewed(started);
        return;
      }
      this.lost = true;
      this.logger.warn('the import lease was lost (this process was stopped longer than its lifetime); stopping before the next write');
    } catch (error) {
      // The database may be briefly away: the writes retry on their own; the lease is checked again before each.
      this.logger.warn({ error: (error as Error).message }, 'could not renew the import lease');
    }
  }

  /**
   * The lease now runs to `started + ttl` (the expiry was computed from the time the request was
   * made, so it cannot be later than what the server stored). A third of the lifetime is kept in
   * reserve for the write that follows the check and for clock drift between hosts.
   */
  private renewed(started: number): void {
    this.safeUntil = started + Math.floor((this.ttlMs * 2) / 3);
  }
}
