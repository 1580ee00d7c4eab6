import type { Document, FindCursor } from 'mongodb';

/**
 * A cursor read ahead of its consumer: the next batches are fetched (and the server converts
 * them) while the client compares the current one. At most about `readAhead` documents wait here;
 * the cursor's own batch comes on top. `next()` hands over whole batches, in cursor order.
 */
export class DocumentFeed {
  private readonly queue: Document[][] = [];
  private queued = 0;
  private finished = false;
  private failure: { error: unknown } | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly cursor: FindCursor<Document>,
    private readonly readAhead: number,
  ) {
    void this.pump();
  }

  /** The next documents, or undefined once the cursor is exhausted. Rethrows a read error. */
  async next(): Promise<Document[] | undefined> {
    for (;;) {
      const batch = this.queue.shift();
      if (batch) {
        this.queued -= batch.length;
        this.wakeProducer?.();
        return batch;
      }
      if (this.failure) throw this.failure.error;
      if (this.finished) return undefined;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = undefined;
    }
  }

  /** The first document not handed over yet, without taking it (waits for it); undefined at the end. */
  async peek(): Promise<Document | undefined> {
    for (;;) {
      const batch = this.queue[0];
      if (batch) return batch[0];
      if (this.failure) throw this.failure.error;
      if (this.finished) return undefined;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
      this.wakeConsumer = undefined;
    }
  }

  /** Stops reading and closes the cursor (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.wakeProducer?.();
    await this.cursor.close().catch(() => undefined);
  }

  private async pump(): Promise<void> {
    try {
      while (!this.closed && (await this.cursor.hasNext())) {
        const batch = this.cursor.readBufferedDocuments();
        if (batch.length === 0) continue;
        this.queue.push(batch);
        this.queued += batch.length;
        this.wakeConsumer?.();
        while (!this.closed && this.queued >= this.readAhead) {
          await new Promise<void>((resolve) => (this.wakeProducer = resolve));
          this.wakeProducer = undefined;
        }
      }
    } catch (error) {
      if (!this.closed) this.failure = { error };
    } finally {
      this.finished = true;
      this.wakeConsumer?.();
    }
  }
}
