import type { LogCheckpoint } from '../../domain/record-sink.js';
import type { SourceFile } from '../../domain/source-file.js';
import { fileKey } from './file-completion.js';

/**
 * Decides when a log checkpoint may reach the ledger: only once every batch started before it was
 * offered has answered (batches finish out of order), and only for a file that is clean so far
 * (its existing entries compared, none of its records a conflict, kept-newer or refused): a run
 * resumed there would otherwise no longer report them.
 */
export class LogCheckpoints {
  private readonly queues = new Map<string, Array<{ file: SourceFile; checkpoint: LogCheckpoint; afterBatch: number }>>();

  /** A checkpoint offered after batch `afterBatch` was started (every record before it is in that batch or earlier). */
  offer(file: SourceFile, checkpoint: LogCheckpoint, afterBatch: number): void {
    const key = fileKey(file);
    const queue = this.queues.get(key) ?? [];
    queue.push({ file, checkpoint, afterBatch });
    this.queues.set(key, queue);
  }

  /**
   * The latest safe checkpoint of each file whose checkpoints became due (every batch through
   * `answeredThrough` has answered). Due checkpoints of a file that is not clean are dropped.
   */
  takeSafe(answeredThrough: number, isClean: (key: string) => boolean): Array<{ file: SourceFile; checkpoint: LogCheckpoint }> {
    const safe: Array<{ file: SourceFile; checkpoint: LogCheckpoint }> = [];
    for (const [key, queue] of this.queues) {
      let latest: (typeof queue)[number] | undefined;
      while (queue.length > 0 && (queue[0]?.afterBatch ?? Number.POSITIVE_INFINITY) <= answeredThrough) latest = queue.shift();
      if (queue.length === 0) this.queues.delete(key);
      if (latest && isClean(key)) safe.push({ file: latest.file, checkpoint: latest.checkpoint });
    }
    return safe;
  }

  /** The file is done: its final ledger entry supersedes any checkpoint. */
  forget(key: string): void {
    this.queues.delete(key);
  }

  get size(): number {
    return this.queues.size;
  }
}
