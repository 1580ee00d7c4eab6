import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deterministicObjectId, keyDigestInput } from '../../../src/normalize/deterministic-id.js';

/** The bytes as the first versions built them: a 12-byte Buffer, time then the first 8 bytes of SHA-256. */
function referenceIdHex(collection: string, keyParts: readonly string[], time: Date): string {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(Math.min(Math.max(Math.floor(time.getTime() / 1000), 0), 0xffffffff), 0);
  createHash('sha256').update(keyDigestInput(collection, keyParts)).digest().copy(bytes, 4, 0, 8);
  return bytes.toString('hex');
}

describe('deterministicObjectId', () => {
  // Pinned: a resumed import must produce the _ids an earlier version of the tool wrote, or
  // documents of one cutover would carry two kinds of _id. Computed once with the original
  // incremental SHA-256 (collection, then NUL + each key part).
  it('keeps the _id an earlier version derived for the same key and time', () => {
    const id = deterministicObjectId('pack_run_logs', ['run-1', '2'], new Date('2025-11-06T09:00:00Z'));
    expect(id.toHexString()).toBe('690c63901e01a23961e707c5');
  });

  it('puts the record time in the first 4 bytes, clamped to what an ObjectId can hold', () => {
    const key = ['run-1', 'report'];
    expect(deterministicObjectId('pack_artifacts', key, new Date('2025-11-06T09:00:00Z')).getTimestamp()).toEqual(new Date('2025-11-06T09:00:00Z'));
    expect(deterministicObjectId('pack_artifacts', key, new Date('1900-01-01T00:00:00Z')).getTimestamp()).toEqual(new Date(0));
    expect(deterministicObjectId('pack_artifacts', key, new Date('2200-01-01T00:00:00Z')).getTimestamp()).toEqual(new Date(0xffffffff * 1000));
  });

  it('separates key parts, so ("a", "bc") and ("ab", "c") differ', () => {
    const time = new Date('2025-11-06T09:00:00Z');
    expect(deterministicObjectId('c', ['a', 'bc'], time).equals(deterministicObjectId('c', ['ab', 'c'], time))).toBe(false);
    expect(deterministicObjectId('pack_run_logs', ['r', '1'], time).equals(deterministicObjectId('pack_run_approvals', ['r', '1'], time))).toBe(false);
  });

  it('derives the same bytes as the Buffer-built reference for any key and any time', () => {
    const part = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udc00x'));
    const time = fc.oneof(
      fc.date({ noInvalidDate: false }),
      fc.integer({ min: -1e15, max: 1e15 }).map((ms) => new Date(ms)),
      fc.constantFrom(new Date(NaN), new Date(0), new Date(-1), new Date(999), new Date(0xffffffff * 1000), new Date(0x100000000 * 1000)),
    );
    fc.assert(
      fc.property(fc.constantFrom('pack_run_logs', 'pack_artifacts', 'pack_run_approvals', ''), fc.array(part, { maxLength: 4 }), time, fc.array(part, { maxLength: 4 }), (collection, keyParts, at, nextKeyParts) => {
        const id = deterministicObjectId(collection, keyParts, at);
        expect(id.toHexString()).toBe(referenceIdHex(collection, keyParts, at));
        // The next id must not change this one (no bytes shared between ids).
        deterministicObjectId(collection, nextKeyParts, new Date(at.getTime() + 1e9));
        expect(id.toHexString()).toBe(referenceIdHex(collection, keyParts, at));
      }),
      { numRuns: 2000 },
    );
  });
});

