import { createHash } from 'node:crypto';
import { BSON, type Document } from 'mongodb';
import type { Rejection } from './outcomes.js';

/**
 * What a rejection covers, as SHA-256 hex: the bytes of the rejected record (a log line's text,
 * an array element's JSON, a whole file's bytes), or, where no bytes could be read (an unreadable
 * path, a line too long to keep), what identifies it. An accepted rejection matches only while
 * this stays the same: an edited record is a new rejection.
 */
export function fingerprintOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A refused document's fingerprint: its BSON bytes (the same source bytes give the same document). */
export function fingerprintOfDocument(doc: Document): string {
  return createHash('sha256').update(BSON.serialize(doc)).digest('hex');
}

function acceptanceKey(rejection: Pick<Rejection, 'collection' | 'file' | 'line' | 'element' | 'reason' | 'fingerprint'>): string {
  return JSON.stringify([rejection.collection, rejection.file, rejection.line ?? null, rejection.element ?? null, rejection.reason, rejection.fingerprint]);
}

/**
 * The rejections an operator reviewed and accepted as not imported (`--accept-rejections FILE`,
 * a rejects file written by `--rejects`). A rejection is accepted when the same file, the same
 * position (line, or element of an array) and the same bytes (fingerprint) are rejected for the
 * same reason; anything else still counts as rejected.
 */
export class RejectionAcceptance {
  private readonly keys: Map<string, boolean>;

  private constructor(keys: readonly string[]) {
    this.keys = new Map(keys.map((key) => [key, false]));
  }

  static none(): RejectionAcceptance {
    return new RejectionAcceptance([]);
  }

  /**
   * Parses a rejects file (NDJSON, one rejection per line, as `--rejects` writes it). Returns the
   * problem as text instead of throwing, so the caller decides how to report it.
   */
  static parse(text: string): RejectionAcceptance | { error: string } {
    const keys: string[] = [];
    const lines = text.split('\n');
    for (let index = 0; index < lines.length; index++) {
      const line = (lines[index] as string).trim();
      if (line === '') continue;
      let entry: Partial<Rejection>;
      try {
        entry = JSON.parse(line) as Partial<Rejection>;
      } catch {
        return { error: `line ${index + 1} is not JSON` };
      }
      if (typeof entry !== 'object' || entry === null || typeof entry.file !== 'string' || typeof entry.reason !== 'string' || typeof entry.collection !== 'string') {
        return { error: `line ${index + 1} is not a rejection (it needs "collection", "file" and "reason")` };
      }
      if (typeof entry.fingerprint !== 'string') {
        return { error: `line ${index + 1} has no "fingerprint" (a rejects file written by an older version): write a new one with --rejects and review that` };
      }
      keys.push(acceptanceKey(entry as Rejection));
    }
    return new RejectionAcceptance(keys);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Whether this rejection was reviewed and accepted (and notes that its entry was used). */
  accepts(rejection: Rejection): boolean {
    const key = acceptanceKey(rejection);
    if (!this.keys.has(key)) return false;
    this.keys.set(key, true);
    return true;
  }

  /** Accepted entries no rejection of this run matched: fixed since, changed, or not read (ledger, --run). */
  unused(): number {
    let count = 0;
    for (const used of this.keys.values()) if (!used) count += 1;
    return count;
  }
}
