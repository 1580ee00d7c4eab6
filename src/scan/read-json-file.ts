import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { ReasonCode } from '../domain/outcomes.js';

export type JsonParseResult =
  | { ok: true; json: unknown }
  | { ok: false; reason: ReasonCode; message: string; excerpt?: string };

/** The parse result plus the SHA-256 of the bytes read (absent when nothing could be read). */
export type JsonFileResult = JsonParseResult & { sha256?: string };

const EXCERPT_CHARS = 200;

/**
 * Reads one whole-document JSON file (state, approvals, manifest). Opened read-only; the size is
 * checked before reading so a huge file (larger than a JS string can hold) is refused, not loaded.
 */
export async function readJsonFile(absolutePath: string, maxBytes: number): Promise<JsonFileResult> {
  let bytes: Buffer;
  try {
    const handle = await open(absolutePath, 'r');
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) {
        return { ok: false, reason: 'file-too-large', message: `the file is ${size} bytes, over the limit of ${maxBytes}` };
      }
      bytes = Buffer.alloc(size);
      let filled = 0;
      // Read no more than the size seen at open: a file growing meanwhile is read next time.
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      bytes = bytes.subarray(0, filled);
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, reason: 'unreadable', message: `the file cannot be read (${code})` };
  }
  return { ...parseJsonBytes(bytes), sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Decodes strict UTF-8 (a BOM is allowed and dropped) and parses JSON. */
export function parseJsonBytes(bytes: Uint8Array): JsonParseResult {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    return { ok: false, reason: 'invalid-utf8', message: `invalid UTF-8 at byte ${offset}` };
  }
  if (text.trim().length === 0) {
    return { ok: false, reason: 'empty-file', message: bytes.length === 0 ? 'the file is empty (0 bytes)' : 'the file holds only white space' };
  }
  try {
    return { ok: true, json: JSON.parse(text) as unknown };
  } catch (error) {
    return {
      ok: false,
      reason: 'invalid-json',
      message: `not valid JSON: ${(error as Error).message}`,
      excerpt: excerpt(text),
    };
  }
}

export function excerpt(text: string): string {
  const visible = text.replace(/[\u0000-\u001f\u007f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return visible.length > EXCERPT_CHARS ? `${visible.slice(0, EXCERPT_CHARS)}…` : visible;
}

/** Offset of the first byte that breaks UTF-8, for the rejection message. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const byte = bytes[i] as number;
    const length = byte < 0x80 ? 1 : byte >= 0xc2 && byte < 0xe0 ? 2 : byte >= 0xe0 && byte < 0xf0 ? 3 : byte >= 0xf0 && byte < 0xf5 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    for (let k = 1; k < length; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return i;
    const decoded = new TextDecoder('utf-8', { fatal: true });
    try {
      decoded.decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return i;
}
