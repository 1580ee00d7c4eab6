/**
 * `--workers`: log files read by worker threads (src/read/log-reader-pool.ts) must hand over
 * exactly what the main thread's read hands over (records with their `_id`s, rejections, warnings,
 * checkpoints at the same places, the same end position), for any file. Property-based: random
 * files of valid, invalid, blank, overlong, non-UTF-8 and unterminated lines, read both ways.
 */
import { stat } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogReaderPool } from '../../src/read/log-reader-pool.js';
import { readLogFileRecords, type LogReadEvents, type LogReadInput } from '../../src/read/read-log-file.js';
import { makeSourceTree, type SourceTree } from '../helpers/source-tree.js';

let tree: SourceTree;
let pool: LogReaderPool;

beforeAll(async () => {
  tree = await makeSourceTree({}, 'backfill-log-workers-');
  pool = new LogReaderPool(2);
});
afterAll(async () => {
  await pool?.close();
  await tree?.remove();
});

/** Everything a read hands over, in the order it matters: records; rejections; warnings; each checkpoint with the records before it. */
interface Trace {
  records: string[];
  rejections: string[];
  warnings: string[];
  checkpoints: string[];
  position: string;
}

function tracer(): { events: LogReadEvents; trace: Trace } {
  const trace: Trace = { records: [], rejections: [], warnings: [], checkpoints: [], position: '' };
  const events: LogReadEvents = {
    record: (record, bytes) => {
      const doc = record.doc;
      trace.records.push(JSON.stringify({ ...doc, _id: doc._id.toHexString(), sequence: String(doc.sequence), origin: record.origin, bytes, isObjectId: doc._id.constructor.name }));
    },
    reject: (rejection) => void trace.rejections.push(JSON.stringify(rejection)),
    warn: (code, detail) => void trace.warnings.push(`${code} ${detail}`),
    checkpoint: (checkpoint) => void trace.checkpoints.push(`${trace.records.length} ${JSON.stringify(checkpoint)}`),
  };
  return { events, trace };
}

let counter = 0;
async function bothWays(content: Buffer, maxLineBytes: number): Promise<{ main: Trace; pooled: Trace }> {
  const relativePath = `logs/runs/run-${++counter}.ndjson`;
  await tree.write(relativePath, content);
  const absolutePath = tree.path(relativePath);
  const { size, mtimeMs } = await stat(absolutePath);
  const file = { relativePath, absolutePath, size, mtimeMs };
  const input: LogReadInput = { runId: `run-${counter}`, fileStem: `run-${counter}`, maxLineBytes, enumStyle: 'camel' };
  const main = tracer();
  main.trace.position = JSON.stringify(await readLogFileRecords(file, input, undefined, main.events));
  const pooled = tracer();
  pooled.trace.position = JSON.stringify(await pool.submit(file, input).replay(pooled.events));
  return { main: main.trace, pooled: pooled.trace };
}

const entry = (n: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ timestamp: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), level: 'info', eventType: 'step.started', message: `m${n}`, ...extra });

const lineArb = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 10_000 }).map((n) => Buffer.from(entry(n))) },
  { weight: 1, arbitrary: fc.nat({ max: 10_000 }).map((n) => Buffer.from(entry(n, { sequence: n, metadata: { a: 1, b: 'x' }, extraField: true }))) },
  { weight: 1, arbitrary: fc.nat({ max: 10_000 }).map((n) => Buffer.from(entry(n, { level: 'LOUD' }))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((text) => Buffer.from(`{"broken": ${text}`)) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from(''), Buffer.from('   '), Buffer.from('\t')) },
  { weight: 1, arbitrary: fc.constant(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])) },
  { weight: 1, arbitrary: fc.nat({ max: 2000 }).map((n) => Buffer.from(`{"message":"${'x'.repeat(300 + n)}"}`)) },
);

const fileArb = fc.record({
  lines: fc.array(lineArb, { maxLength: 40 }),
  ending: fc.constantFrom('\n', '\r\n'),
  terminated: fc.boolean(),
  bom: fc.boolean(),
});

describe('log files read by worker threads', () => {
  it('hand over exactly what the main thread hands over, for any file', async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, fc.integer({ min: 64, max: 1200 }), async (shape, maxLineBytes) => {
        const parts: Buffer[] = shape.bom ? [Buffer.from([0xef, 0xbb, 0xbf])] : [];
        shape.lines.forEach((line, index) => {
          parts.push(line);
          if (index < shape.lines.length - 1 || shape.terminated) parts.push(Buffer.from(shape.ending));
        });
        const { main, pooled } = await bothWays(Buffer.concat(parts), maxLineBytes);
        expect(pooled).toEqual(main);
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('a large file: the same checkpoints after the same records, records as ObjectIds and bigints', async () => {
    const lines = Array.from({ length: 30_000 }, (_, n) => (n === 12_345 ? '{not json' : entry(n, n % 7 === 0 ? { sequence: n + 1 } : {})));
    const rejectedFree = Array.from({ length: 30_000 }, (_, n) => entry(n));
    for (const content of [lines, rejectedFree]) {
      const { main, pooled } = await bothWays(Buffer.from(`${content.join('\n')}\n`), 16 * 1024 * 1024);
      expect(pooled).toEqual(main);
      expect(main.records.length).toBeGreaterThan(29_000);
      expect(main.records[0]).toContain('"isObjectId":"ObjectId"');
      if (content === rejectedFree) expect(main.checkpoints.length, 'a 3 MB file is read in several chunks').toBeGreaterThan(1);
    }
  }, 120_000);
});
