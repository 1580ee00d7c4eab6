/**
 * readLogLines (src/scan/read-log-lines.ts) against real temporary files: it is I/O, so it lives
 * here rather than in test/unit.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLogLines, type LogLine, type ReadLogLinesOptions } from '../../src/scan/read-log-lines.js';
import { makeSourceTree, type SourceTree } from '../helpers/source-tree.js';

let tree: SourceTree;

beforeAll(async () => {
  tree = await makeSourceTree({}, 'backfill-log-lines-');
});
afterAll(async () => {
  await tree?.remove();
});

let counter = 0;
async function fileWith(content: string | Buffer): Promise<{ path: string; size: number }> {
  const relativePath = `logs/f${++counter}.ndjson`;
  await tree.write(relativePath, content);
  return { path: tree.path(relativePath), size: Buffer.byteLength(content) };
}

async function readAll(path: string, options: ReadLogLinesOptions): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for await (const batch of readLogLines(path, options)) lines.push(...batch);
  return lines;
}

async function lines(content: string | Buffer, options: Partial<ReadLogLinesOptions> = {}): Promise<LogLine[]> {
  const file = await fileWith(content);
  return readAll(file.path, { endOffset: file.size, maxLineBytes: 1024, ...options });
}

describe('readLogLines', () => {
  it('splits LF lines and reports numbers and byte offsets', async () => {
    expect(await lines('{"a":1}\n{"b":2}\n')).toEqual([
      { lineNumber: 1, byteOffset: 0, endOffset: 8, byteLength: 7, terminated: true, text: '{"a":1}' },
      { lineNumber: 2, byteOffset: 8, endOffset: 16, byteLength: 7, terminated: true, text: '{"b":2}' },
    ]);
  });

  it('drops the \\r of CRLF line ends but counts it in the offsets', async () => {
    const result = await lines('a\r\nbc\r\n');
    expect(result.map((line) => line.text)).toEqual(['a', 'bc']);
    expect(result.map((line) => [line.byteOffset, line.endOffset])).toEqual([[0, 3], [3, 7]]);
    // A \r that is not before \n is content.
    expect((await lines('a\rb\n')).map((line) => line.text)).toEqual(['a\rb']);
  });

  it('drops a UTF-8 BOM at the start of the file only', async () => {
    const result = await lines('\uFEFF{"a":1}\n{"b":2}\n');
    expect(result[0]).toMatchObject({ text: '{"a":1}', byteOffset: 0, endOffset: 11 });
    expect(result[1]).toMatchObject({ text: '{"b":2}', byteOffset: 11 });
  });

  it('yields blank lines, so they count in the numbering', async () => {
    const result = await lines('a\n\n\r\nb\n');
    expect(result.map((line) => [line.lineNumber, line.text])).toEqual([[1, 'a'], [2, ''], [3, ''], [4, 'b']]);
  });

  it('marks an unterminated last line', async () => {
    const result = await lines('a\n{"cut":"mid');
    expect(result).toHaveLength(2);
    expect(result[1]).toMatchObject({ lineNumber: 2, text: '{"cut":"mid', terminated: false, endOffset: 13 });
    expect(result[0]?.terminated).toBe(true);
  });

  it('gives nothing for an empty range', async () => {
    expect(await lines('')).toEqual([]);
    expect(await lines('a\n', { startOffset: 2, startLine: 2 })).toEqual([]);
  });

  it('rejects a line over maxLineBytes without holding it, and reads its neighbours', async () => {
    const long = 'x'.repeat(5000);
    const result = await lines(`a\n${long}\nb\n`, { maxLineBytes: 100, chunkBytes: 64 });
    expect(result).toHaveLength(3);
    expect(result[1]).toEqual({ lineNumber: 2, byteOffset: 2, endOffset: 5003, byteLength: 5000, terminated: true, problem: 'line-too-long' });
    expect(result.map((line) => line.text)).toEqual(['a', undefined, 'b']);
    // A line of exactly maxLineBytes is kept.
    expect((await lines(`${'y'.repeat(100)}\n`, { maxLineBytes: 100, chunkBytes: 7 }))[0]?.text).toBe('y'.repeat(100));
  });

  it('reports invalid UTF-8 per line', async () => {
    const result = await lines(Buffer.concat([Buffer.from('ok\n'), Buffer.from([0xc3, 0x28]), Buffer.from('\nok\n')]));
    expect(result.map((line) => line.problem ?? line.text)).toEqual(['ok', 'invalid-utf8', 'ok']);
  });

  it('gives the same lines whatever the chunk size, multi-byte characters split across chunks included', async () => {
    const content = '\uFEFF{"m":"é ü 日本"}\r\n\n{"n":"ß"}\nlast';
    const expected = await lines(content, { chunkBytes: 1 << 20 });
    for (const chunkBytes of [1, 2, 3, 5, 16]) {
      expect(await lines(content, { chunkBytes }), `chunk ${chunkBytes}`).toEqual(expected);
    }
    expect(expected.map((line) => line.text)).toEqual(['{"m":"é ü 日本"}', '', '{"n":"ß"}', 'last']);
  });

  it('resumes from a line start with the right numbers and offsets', async () => {
    const content = 'one\r\n\ntwo\nthree\nfour';
    const file = await fileWith(content);
    const full = await readAll(file.path, { endOffset: file.size, maxLineBytes: 1024 });
    const third = full[2];
    if (!third) throw new Error('expected 5 lines');
    const resumed = await readAll(file.path, { startOffset: third.byteOffset, startLine: third.lineNumber, endOffset: file.size, maxLineBytes: 1024, chunkBytes: 4 });
    expect(resumed).toEqual(full.slice(2));
    expect(resumed.map((line) => line.text)).toEqual(['two', 'three', 'four']);
  });

  it('stops at endOffset: bytes appended after the import started wait for the next run', async () => {
    const file = await fileWith('a\nb\nc\n');
    const result = await readAll(file.path, { endOffset: 4, maxLineBytes: 1024 });
    expect(result.map((line) => [line.text, line.terminated])).toEqual([['a', true], ['b', true]]);
  });
});

/** A plain reading of the documented rules: split on `\n`, drop a trailing CR and a BOM at offset 0, fatal UTF-8. */
function referenceLines(content: Buffer, maxLineBytes: number): LogLine[] {
  const result: LogLine[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let lineStart = 0;
  let lineNumber = 1;
  while (lineStart < content.length) {
    const newline = content.indexOf(0x0a, lineStart);
    const terminated = newline !== -1;
    const contentEnd = terminated ? newline : content.length;
    const line: LogLine = { lineNumber, byteOffset: lineStart, endOffset: terminated ? newline + 1 : content.length, byteLength: contentEnd - lineStart, terminated };
    if (contentEnd - lineStart > maxLineBytes) line.problem = 'line-too-long';
    else {
      let bytes = content.subarray(lineStart, contentEnd);
      if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
      if (lineStart === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      try {
        line.text = decoder.decode(bytes);
      } catch {
        line.problem = 'invalid-utf8';
      }
    }
    result.push(line);
    lineNumber += 1;
    lineStart = line.endOffset;
  }
  return result;
}

describe('readLogLines against a plain reference (fast-check)', () => {
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.string({ maxLength: 12 }).map((text) => Buffer.from(text)) },
    { weight: 2, arbitrary: fc.constantFrom(Buffer.from('\n'), Buffer.from('\r\n'), Buffer.from('\r'), Buffer.from('é'), Buffer.from('€'), Buffer.from('😀')) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xe2, 0x82]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xef, 0xbb, 0xbf])) },
  );
  it('agrees on every content, chunk size and line limit (chunk edges inside lines, characters, CRLF)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 40 }), async (pieces, chunkBytes, maxLineBytes) => {
        const content = Buffer.concat(pieces);
        if (content.length === 0) return;
        const file = await fileWith(content);
        expect(await readAll(file.path, { endOffset: file.size, maxLineBytes, chunkBytes })).toEqual(referenceLines(content, maxLineBytes));
      }),
      { numRuns: 400 },
    );
  });
});
