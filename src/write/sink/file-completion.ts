import type { FilePosition } from '../../domain/record-sink.js';
import type { SourceFile } from '../../domain/source-file.js';

/** `role:path`: one key per source file (the role is a fixed word without `:`). */
export function fileKey(file: Pick<SourceFile, 'role' | 'relativePath'>): string {
  return `${file.role}:${file.relativePath}`;
}

/**
 * Owns one invariant: **a file is done only when every record of it was written and every one of
 * its records that already existed was compared.** A file holds one count per batch of its in
 * flight, plus one while it has existing entries not compared yet; it is done when it was handed
 * over (all its records accepted) and holds nothing. Done files are reported once, with whether
 * any of their records met a conflict, a newer copy or a refusal (then they are read again on every
 * run). After a failure nothing is reported done any more.
 */
export class FileCompletion {
  private readonly holds = new Map<string, number>();
  private readonly uncompared = new Map<string, number>();
  private readonly handedOver = new Map<string, { file: SourceFile; position: FilePosition }>();
  private readonly withIssues = new Set<string>();
  private stopped = false;

  constructor(private readonly onDone: (file: SourceFile, position: FilePosition, hadIssues: boolean) => void) {}

  /** A batch holding records of these files was sent. */
  batchStarted(keys: Iterable<string>): void {
    for (const key of keys) this.hold(key);
  }

  /** That batch was written (its existing entries, if any, are held separately). */
  batchWritten(keys: Iterable<string>): void {
    for (const key of keys) this.release(key);
  }

  /** `count` records of this file already existed and wait to be compared. */
  existingMet(key: string, count: number): void {
    if (count <= 0) return;
    const waiting = this.uncompared.get(key) ?? 0;
    if (waiting === 0) this.hold(key);
    this.uncompared.set(key, waiting + count);
  }

  /** `count` of them were compared. The hold ends when none is left, however many were met meanwhile. */
  existingCompared(key: string, count: number): void {
    const waiting = (this.uncompared.get(key) ?? count) - count;
    if (waiting > 0) {
      this.uncompared.set(key, waiting);
      return;
    }
    this.uncompared.delete(key);
    this.release(key);
  }

  /** A record of this file ended as a conflict, kept-newer or refused. */
  issue(key: string): void {
    this.withIssues.add(key);
  }

  /** Every record of the file was accepted; it is done once nothing holds it. */
  handOver(file: SourceFile, position: FilePosition): void {
    const key = fileKey(file);
    this.handedOver.set(key, { file, position });
    if ((this.holds.get(key) ?? 0) === 0) this.finish(key);
  }

  /** Nothing of the file waits and none of its records had an issue: a checkpoint of it is safe. */
  isClean(key: string): boolean {
    return !this.uncompared.has(key) && !this.withIssues.has(key);
  }

  /** After a failure: no file is reported done any more (its batches may not have been written). */
  stop(): void {
    this.stopped = true;
  }

  private hold(key: string): void {
    this.holds.set(key, (this.holds.get(key) ?? 0) + 1);
  }

  private release(key: string): void {
    const left = (this.holds.get(key) ?? 1) - 1;
    this.holds.set(key, left);
    if (left === 0) this.finish(key);
  }

  private finish(key: string): void {
    const done = this.handedOver.get(key);
    if (!done || this.stopped) return;
    this.handedOver.delete(key);
    this.holds.delete(key);
    this.onDone(done.file, done.position, this.withIssues.delete(key));
  }
}
