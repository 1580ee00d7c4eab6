import { describe, expect, it } from 'vitest';
import { deterministicObjectId } from '../../../src/normalize/deterministic-id.js';

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
});
