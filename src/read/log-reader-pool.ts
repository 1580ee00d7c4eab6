import type { Worker } from 'node:worker_threads';
import { ObjectId } from 'mongodb';
import { InternalError } from '../errors.js';
import type { FilePosition } from '../domain/record-sink.js';
import type { LogDocument } from '../normalize/documents.js';
import { startWorker } from '../runtime/start-worker.js';
import type { FromWorker, LogFileData, ToWorker } from './log-reader-messages.js';
import type { LogReadEvents, LogReadInput } from './read-log-file.js';

type Part = Extract<FromWorker, { type: 'part' }>;

/**
 * Log files read and normalized by worker threads (`--workers N`), their records handed back in
 * file order. The caller submits files in the order it will replay them; each worker reads one
 * file at a time, and since replay always waits on the oldest file submitted, which is always
 * already being read, the pool never stalls. Memory is bounded: a file sends at most a few parts
 * ahead of its replay (see the worker), and the caller keeps only a few files submitted ahead.
 */
export class LogReaderPool {
  private readonly idle: PooledWorker[] = [];
  private readonly queue: LogReadTask[] = [];
  private readonly all: PooledWorker[] = [];
  private nextTaskId = 1;
  private closed = false;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const pooled = new PooledWorker(startWorker('log-reader'), (worker) => this.workerFree(worker));
      this.all.push(pooled);
      this.idle.push(pooled);
    }
  }

  /** Starts reading `file` as soon as a worker is free; replay the task to receive its records. */
  submit(file: LogFileData, input: LogReadInput): LogReadTask {
    const task = new LogReadTask(this.nextTaskId++, { type: 'read', taskId: 0, file, input });
    task.request.taskId = task.taskId;
    this.queue.push(task);
    this.dispatch();
    return task;
  }

  /** Stops every worker (at the end, or when the read stops early). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue) task.fail(new InternalError('the log-reader pool was closed'));
    this.queue.length = 0;
    await Promise.all(this.all.map((pooled) => pooled.terminate()));
  }

  private workerFree(worker: PooledWorker): void {
    this.idle.push(worker);
    this.dispatch();
  }

  private dispatch(): void {
    while (!this.closed && this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.shift() as PooledWorker;
      worker.run(this.queue.shift() as LogReadTask);
    }
  }
}

/** One worker thread and the task it is reading. */
class PooledWorker {
  private task: LogReadTask | undefined;
  private terminating = false;

  constructor(
    private readonly worker: Worker,
    private readonly onFree: (worker: PooledWorker) => void,
  ) {
    worker.on('message', (message: FromWorker) => {
      const task = this.task;
      if (!task || message.taskId !== task.taskId) return;
      if (message.type === 'part') {
        task.receive(message);
        return;
      }
      if (message.type === 'end') task.end(message.position);
      else task.fail(new InternalError(`a log-reader worker failed while reading a log file: ${message.message}`));
      this.task = undefined;
      this.onFree(this);
    });
    worker.on('error', (error) => this.lost(error));
    worker.on('exit', (code) => {
      if (!this.terminating) this.lost(new Error(`it exited with code ${code}`));
    });
  }

  run(task: LogReadTask): void {
    this.task = task;
    task.credit = () => this.post({ type: 'credit', taskId: task.taskId });
    this.post(task.request);
  }

  async terminate(): Promise<void> {
    this.terminating = true;
    await this.worker.terminate();
  }

  private post(message: ToWorker): void {
    if (!this.terminating) this.worker.postMessage(message);
  }

  private lost(error: Error): void {
    this.task?.fail(new InternalError(`a log-reader worker stopped: ${error.message}. Run the same command again; --workers 0 reads in the main thread`, { cause: error }));
    this.task = undefined;
  }
}

/** One log file being read by a worker: its parts, replayed in order by the main thread. */
export class LogReadTask {
  private readonly parts: Part[] = [];
  private position: FilePosition | undefined;
  private failure: Error | undefined;
  private wakeUp: (() => void) | undefined;
  /** Set when a worker takes the task: tells it one more part may come. */
  credit: () => void = () => undefined;

  constructor(
    readonly taskId: number,
    readonly request: Extract<ToWorker, { type: 'read' }>,
  ) {}

  receive(part: Part): void {
    this.parts.push(part);
    this.wake();
  }

  end(position: FilePosition): void {
    this.position = position;
    this.wake();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  /**
   * Hands the file's records, rejections, warnings and checkpoints to `events` in the order the
   * worker met them, and returns where the file ended. What `events.record` throws ends the replay.
   */
  async replay(events: LogReadEvents): Promise<FilePosition> {
    const file = this.request.file.relativePath;
    for (;;) {
      const part = this.parts.shift();
      if (part) {
        this.credit();
        for (let i = 0; i < part.docs.length; i++) {
          const data = part.docs[i] as Part['docs'][number];
          const doc = data as unknown as LogDocument;
          doc._id = new ObjectId(data._id);
          await events.record({ doc, origin: { file, line: part.origins[2 * i], byteOffset: part.origins[2 * i + 1] } }, part.bytes[i] as number);
        }
        for (const rejection of part.rejections) events.reject(rejection);
        for (const [code, detail] of part.warnings) events.warn(code, detail);
        if (part.checkpoint) await events.checkpoint(part.checkpoint);
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.position) return this.position;
      await new Promise<void>((resolve) => (this.wakeUp = resolve));
      this.wakeUp = undefined;
    }
  }

  private wake(): void {
    this.wakeUp?.();
  }
}
