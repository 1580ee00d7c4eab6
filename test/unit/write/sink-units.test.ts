/**
 * The write path's units, each with the one invariant it owns (src/write/sink/): no database here,
 * only their bookkeeping, driven by plain async functions and, for FileCompletion, by a randomized
 * sequence of events checked against a simple reference (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FilePosition, LogCheckpoint } from '../../../src/domain/record-sink.js';
import type { SourceFile } from '../../../src/domain/source-file.js';
import { BatchWindow } from '../../../src/write/sink/batch-window.js';
import { ExistingEntries } from '../../../src/write/sink/existing-entries.js';
import { FileCompletion, fileKey } from '../../../src/write/sink/file-completion.js';
import { LogCheckpoints } from '../../../src/write/sink/log-checkpoints.js';

const file = (name: string): SourceFile => ({ role: 'logs', relativePath: `logs/runs/${name}.ndjson`, absolutePath: `/src/logs/runs/${name}.ndjson`, size: 10, mtimeMs: 1 });
const position: FilePosition = { endOffset: 10, nextLine: 2, records: 1, rejected: 0 };
const checkpoint = (line: number): LogCheckpoint => ({ runId: 'r', resumeOffset: line * 10, resumeLine: line, hashedTo: line * 10, sha256: 'x' });

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('BatchWindow', () => {
  it('holds at most `concurrency` batches; answeredThrough waits for the earliest unanswered batch', async () => {
    const window = new BatchWindow(2);
    const gates = [deferred(), deferred(), deferred()];
    const written: number[] = [];
    await window.waitForSlot();
    window.start(() => gates[0]!.promise, () => written.push(0));
    await window.waitForSlot();
    window.start(() => gates[1]!.promise, () => written.push(1));
    let third = false;
    const waiting = window.waitForSlot().then(() => (third = true));
    await tick();
    expect(third).toBe(false); // backpressure
    gates[1]!.resolve();
    await waiting;
    expect(window.answeredThrough()).toBe(-1); // batch 0 still out
    window.start(() => gates[2]!.promise, () => written.push(2));
    gates[2]!.resolve();
    await tick();
    expect(window.answeredThrough()).toBe(-1);
    gates[0]!.resolve();
    await window.drain();
    expect(window.answeredThrough()).toBe(2);
    expect(written.sort()).toEqual([0, 1, 2]);
  });

  it('keeps the first failure, tells it once, and rethrows it on every later call', async () => {
    const failures: unknown[] = [];
    const window = new BatchWindow(4, (error) => failures.push(error));
    window.start(() => Promise.reject(new Error('first')), () => undefined);
    window.start(() => Promise.reject(new Error('second')), () => undefined);
    await expect(window.drain()).rejects.toThrow('first');
    await expect(window.waitForSlot()).rejects.toThrow('first');
    expect(failures).toHaveLength(1);
  });
});

describe('FileCompletion', () => {
  it('a file is done only when handed over and nothing of it is in flight or waiting to be compared', () => {
    const done: string[] = [];
    const completion = new FileCompletion((f, _p, issues) => done.push(`${f.relativePath}${issues ? ' (issues)' : ''}`));
    const a = fileKey(file('a'));
    completion.batchStarted([a]);
    completion.batchStarted([a]);
    completion.handOver(file('a'), position);
    completion.batchWritten([a]);
    completion.existingMet(a, 3);
    completion.batchWritten([a]);
    expect(done).toEqual([]); // 3 existing entries still to compare
    completion.existingCompared(a, 2);
    completion.existingMet(a, 1); // met while the first comparison ran
    completion.existingCompared(a, 1);
    expect(done).toEqual([]);
    completion.issue(a);
    completion.existingCompared(a, 1);
    expect(done).toEqual(['logs/runs/a.ndjson (issues)']);
  });

  it('reports nothing done after a failure', () => {
    const done: string[] = [];
    const completion = new FileCompletion((f) => done.push(f.relativePath));
    const a = fileKey(file('a'));
    completion.batchStarted([a]);
    completion.handOver(file('a'), position);
    completion.stop();
    completion.batchWritten([a]);
    expect(done).toEqual([]);
  });

  it('against a reference: done exactly when handed over with no batch and no uncompared entry left, once', () => {
    type Event = { kind: 'start' | 'write' | 'met' | 'compare' | 'issue' | 'handOver'; n: number };
    const events = fc.array(
      fc.record({ kind: fc.constantFrom<Event['kind']>('start', 'write', 'met', 'compare', 'issue', 'handOver'), n: fc.integer({ min: 1, max: 3 }) }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(events, (sequence) => {
        const reported: boolean[] = [];
        const completion = new FileCompletion((_f, _p, issues) => reported.push(issues));
        const key = fileKey(file('a'));
        // The reference: plain counters.
        let batches = 0;
        let uncompared = 0;
        let handedOver = false;
        let issues = false;
        let expectedDone: boolean[] = [];
        for (const event of sequence) {
          if (expectedDone.length > 0) break; // done once; later events belong to no file
          switch (event.kind) {
            case 'start':
              if (handedOver) continue; // a file's records are all accepted before it is handed over
              batches += 1;
              completion.batchStarted([key]);
              break;
            case 'write':
              if (batches === 0) continue;
              batches -= 1;
              completion.batchWritten([key]);
              break;
            case 'met':
              if (batches === 0) continue; // entries are met by a batch in flight
              uncompared += event.n;
              completion.existingMet(key, event.n);
              break;
            case 'compare': {
              const n = Math.min(event.n, uncompared);
              if (n === 0) continue;
              uncompared -= n;
              completion.existingCompared(key, n);
              break;
            }
            case 'issue':
              issues = true;
              completion.issue(key);
              break;
            case 'handOver':
              if (handedOver) continue;
              handedOver = true;
              completion.handOver(file('a'), position);
              break;
          }
          if (handedOver && batches === 0 && uncompared === 0) expectedDone = [issues];
          expect(reported).toEqual(expectedDone);
        }
      }),
    );
  });
});

describe('LogCheckpoints', () => {
  it('a checkpoint is safe once every batch started before it answered, and only for a clean file', () => {
    const checkpoints = new LogCheckpoints();
    checkpoints.offer(file('a'), checkpoint(100), 3);
    checkpoints.offer(file('a'), checkpoint(200), 5);
    checkpoints.offer(file('b'), checkpoint(50), 4);
    expect(checkpoints.takeSafe(2, () => true)).toEqual([]);
    expect(checkpoints.takeSafe(4, (key) => key !== fileKey(file('b'))).map((c) => [c.file.relativePath, c.checkpoint.resumeLine])).toEqual([['logs/runs/a.ndjson', 100]]);
    // b's due checkpoint was dropped (its file was not clean); a's later one comes when due.
    expect(checkpoints.takeSafe(9, () => true).map((c) => c.checkpoint.resumeLine)).toEqual([200]);
    expect(checkpoints.size).toBe(0);
  });
});

describe('ExistingEntries', () => {
  it('compares a run of existing entries once it is over, holding their files until then', async () => {
    const done: string[] = [];
    const completion = new FileCompletion((f) => done.push(f.relativePath));
    const compared: number[] = [];
    const existing = new ExistingEntries(completion, async (records) => void compared.push(records.length), 100);
    const key = fileKey(file('a'));
    const record = { doc: {} as never, origin: { file: 'logs/runs/a.ndjson' } };
    completion.batchStarted([key]);
    existing.met([record, record], 7);
    completion.batchWritten([key]);
    completion.handOver(file('a'), position);
    expect(existing.due(6)).toBe(false); // batch 7 may still bring more
    expect(existing.due(7)).toBe(true);
    expect(done).toEqual([]);
    await existing.compareGathered();
    expect(compared).toEqual([2]);
    expect(done).toEqual(['logs/runs/a.ndjson']);
  });

  it('compares at once when `perLookup` entries wait, whatever is still in flight', () => {
    const existing = new ExistingEntries(new FileCompletion(() => undefined), async () => undefined, 2);
    existing.met([{ doc: {} as never, origin: { file: 'f' } }, { doc: {} as never, origin: { file: 'f' } }], 10);
    expect(existing.due(0)).toBe(true);
  });
});
