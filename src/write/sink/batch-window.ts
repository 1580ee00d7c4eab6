import pLimit from 'p-limit';

/**
 * The write window: at most `concurrency` batches in flight; `waitForSlot` is the backpressure
 * that keeps memory flat (the reader cannot run ahead of the writer). Batches get ids in the order
 * they are started; `answeredThrough` is the highest id up to which every batch has answered
 * (batches finish out of order). The first failure is kept and rethrown by every later call.
 */
export class BatchWindow {
  private readonly limit;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly running = new Set<number>();
  private nextId = 0;
  private failure: unknown;
  private failed = false;

  constructor(
    private readonly concurrency: number,
    /** Told once, at the first failure (a batch's, or one reported with `fail`). */
    private readonly onFailure: (error: unknown) => void = () => undefined,
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Resolves when another batch may start; throws the first failure. */
  async waitForSlot(): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.size >= this.concurrency) {
      await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
  }

  /**
   * Starts a batch: `write` runs within the concurrency limit and calls `answered` as soon as the
   * server answered (before any follow-up work of its own); `written` runs after `write` succeeded.
   * Returns the batch id.
   */
  start(write: (answered: () => void) => Promise<void>, written: () => void): number {
    const id = this.nextId++;
    this.running.add(id);
    const answered = (): void => {
      this.running.delete(id);
    };
    const task = this.limit(async () => {
      try {
        await write(answered);
      } finally {
        answered();
      }
    }).then(written, (error: unknown) => this.fail(error));
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
    return id;
  }

  /** The id of the last batch started (-1 before the first). */
  lastStarted(): number {
    return this.nextId - 1;
  }

  /** The highest batch id up to which every batch started has answered. */
  answeredThrough(): number {
    let through = this.nextId - 1;
    for (const id of this.running) through = Math.min(through, id - 1);
    return through;
  }

  /** Records a failure (the first one wins); later calls throw it. */
  fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.failure = error;
    this.onFailure(error);
  }

  hasFailed(): boolean {
    return this.failed;
  }

  /** Waits for every batch started; throws the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    this.throwIfFailed();
  }

  throwIfFailed(): void {
    if (this.failed) throw this.failure;
  }
}
