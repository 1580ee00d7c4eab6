import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';

/** One physical line of a log file. */
export interface LogLine {
  /** 1-based physical line number. */
  lineNumber: number;
  /** Offset of the line's first byte. */
  byteOffset: number;
  /** Offset just past the line, including its line end: where a later run resumes. */
  endOffset: number;
  /** The line without its line end; undefined when it could not be kept (see `problem`). */
  text?: string;
  problem?: 'line-too-long' | 'invalid-utf8';
  /** Size of the line in bytes, without its line end. */
  byteLength: number;
  /** False for a last line with no line end (often a write cut short by a crash). */
  terminated: boolean;
}

export interface ReadLogLinesOptions {
  /** Resume point: byte offset of a line start, and that line's number. */
  startOffset?: number;
  startLine?: number;
  /** Read up to here (exclusive): the size seen when the import started; later appends wait for the next run. */
  endOffset: number;
  /** Longer lines are reported as `line-too-long` without being held in memory. */
  maxLineBytes: number;
  /** Read size; bounds memory together with maxLineBytes. */
  chunkBytes?: number;
  /** Sees every byte read, in order (the ledger hashes what was imported). */
  onBytes?: (chunk: Buffer) => void;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Streams a log file as batches of lines (one batch per chunk read), never the whole file, never a
 * line beyond `maxLineBytes`. A UTF-8 BOM at offset 0 and a `\r` before `\n` are dropped.
 */
export async function* readLogLines(path: string, options: ReadLogLinesOptions): AsyncGenerator<LogLine[]> {
  const start = options.startOffset ?? 0;
  if (options.endOffset <= start) return;
  const stream = createReadStream(path, {
    flags: 'r',
    start,
    end: options.endOffset - 1,
    highWaterMark: options.chunkBytes ?? 1024 * 1024,
  });
  let lineNumber = options.startLine ?? 1;
  let lineStart = start;
  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let oversized = false;

  const finishLine = (endOfContent: number, endOffset: number, terminated: boolean): LogLine => {
    const byteLength = endOfContent - lineStart;
    const line: LogLine = { lineNumber, byteOffset: lineStart, endOffset, byteLength, terminated };
    if (oversized) {
      line.problem = 'line-too-long';
    } else {
      let bytes = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, pieceBytes);
      if (bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, bytes.length - 1);
      if (lineStart === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      // isUtf8 (SIMD) then toString is several times cheaper than a fatal TextDecoder per line.
      if (isUtf8(bytes)) line.text = bytes.toString('utf8');
      else line.problem = 'invalid-utf8';
    }
    lineNumber += 1;
    lineStart = endOffset;
    pieces = [];
    pieceBytes = 0;
    oversized = false;
    return line;
  };

  let chunkStart = start;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    options.onBytes?.(chunk);
    const lines: LogLine[] = [];
    let from = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, from);
      const pieceEnd = newline === -1 ? chunk.length : newline;
      if (!oversized) {
        if (pieceBytes + (pieceEnd - from) > options.maxLineBytes) {
          oversized = true;
          pieces = [];
          pieceBytes = 0;
        } else if (pieceEnd > from) {
          // A tail left for the next chunk is copied so it does not pin the whole chunk.
          const piece = chunk.subarray(from, pieceEnd);
          pieces.push(newline === -1 ? Buffer.from(piece) : piece);
          pieceBytes += pieceEnd - from;
        }
      }
      if (newline === -1) break;
      lines.push(finishLine(chunkStart + newline, chunkStart + newline + 1, true));
      from = newline + 1;
    }
    chunkStart += chunk.length;
    if (lines.length > 0) yield lines;
  }
  if (lineStart < chunkStart) yield [finishLine(chunkStart, chunkStart, false)];
}
