import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

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
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  // A file (or the rest of one) that fits in one chunk is read with one read call: most logs are
  // far smaller than a chunk, and a stream's machinery per file was a visible share of the CPU.
  const source: AsyncIterable<Buffer> =
    options.endOffset - start <= chunkBytes
      ? readRange(path, start, options.endOffset)
      : (createReadStream(path, { flags: 'r', start, end: options.endOffset - 1, highWaterMark: chunkBytes }) as AsyncIterable<Buffer>);
  let lineNumber = options.startLine ?? 1;
  let lineStart = start;
  /** The part of a line begun in an earlier chunk (copied), or empty. */
  let pieces: Buffer[] = [];
  let pieceBytes = 0;
  let oversized = false;

  /**
   * Decodes bytes [begin, end) of `bytes` (a whole line without its `\n`): drops a trailing CR and
   * a BOM at offset 0. Offsets rather than a subarray: a view per line was a visible allocation.
   */
  const decode = (line: LogLine, bytes: Buffer, begin: number, end: number, validated: boolean): void => {
    if (end > begin && bytes[end - 1] === CARRIAGE_RETURN) end -= 1;
    if (line.byteOffset === 0 && bytes[begin] === 0xef && bytes[begin + 1] === 0xbb && bytes[begin + 2] === 0xbf) begin = Math.min(begin + 3, end);
    // isUtf8 (SIMD) then toString is several times cheaper than a fatal TextDecoder per line.
    if (validated || isUtf8(bytes.subarray(begin, end))) line.text = bytes.toString('utf8', begin, end);
    else line.problem = 'invalid-utf8';
  };

  /** Ends the current line at `endOfContent` (its `\n` or the end of the read) and starts the next. */
  const nextLine = (endOfContent: number, endOffset: number, terminated: boolean): LogLine => {
    // text and problem present from the start: one object shape, no property store added later.
    const line: LogLine = { lineNumber, byteOffset: lineStart, endOffset, byteLength: endOfContent - lineStart, terminated, text: undefined, problem: undefined };
    lineNumber += 1;
    lineStart = endOffset;
    return line;
  };

  /** A line whose bytes are all in `chunk`, [from, to). */
  const finishWholeLine = (chunk: Buffer, from: number, to: number, endOfContent: number, validated: boolean): LogLine => {
    const line = nextLine(endOfContent, endOfContent + 1, true);
    decode(line, chunk, from, to, validated);
    return line;
  };

  /** A line gathered in `pieces` (begun in an earlier chunk), or one over the limit. */
  const finishPiecedLine = (endOfContent: number, endOffset: number, terminated: boolean): LogLine => {
    const line = nextLine(endOfContent, endOffset, terminated);
    if (oversized) {
      line.problem = 'line-too-long';
    } else {
      const bytes = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, pieceBytes);
      decode(line, bytes, 0, bytes.length, false);
    }
    if (pieceBytes > 0) {
      pieces = [];
      pieceBytes = 0;
    }
    oversized = false;
    return line;
  };

  let chunkStart = start;
  for await (const chunk of source) {
    options.onBytes?.(chunk);
    const lines: LogLine[] = [];
    let from = 0;
    /**
     * Lines that begin and end in this chunk are validated as UTF-8 once, together (a `\n` is
     * never inside a multi-byte character, so the region holds whole characters): `validFrom` is
     * where that region starts (-1 until it is checked, Infinity when it did not validate).
     */
    let validFrom = -1;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, from);
      const pieceEnd = newline === -1 ? chunk.length : newline;
      if (newline !== -1 && pieceBytes === 0 && !oversized) {
        // The common case: the whole line is in this chunk.
        if (newline - from > options.maxLineBytes) {
          oversized = true;
        } else {
          if (validFrom === -1) validFrom = isUtf8(chunk.subarray(from, chunk.lastIndexOf(NEWLINE))) ? from : Number.POSITIVE_INFINITY;
          lines.push(finishWholeLine(chunk, from, newline, chunkStart + newline, validFrom <= from));
          from = newline + 1;
          continue;
        }
      }
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
      lines.push(finishPiecedLine(chunkStart + newline, chunkStart + newline + 1, true));
      from = newline + 1;
    }
    chunkStart += chunk.length;
    if (lines.length > 0) yield lines;
  }
  if (lineStart < chunkStart) yield [finishPiecedLine(chunkStart, chunkStart, false)];
}

/** Bytes [start, end) of a file in one read (fewer bytes if the file is shorter now). */
async function* readRange(path: string, start: number, end: number): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(end - start);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > 0) yield buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
