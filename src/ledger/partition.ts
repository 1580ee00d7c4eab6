import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { Partition } from './ledger-types.js';

/** Parses `K/N` (1 <= K <= N). */
export function parsePartition(text: string): Partition {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--partition must be K/N with 1 <= K <= N (got "${text}")`);
  }
  return { index, count };
}

/**
 * Which partition a run belongs to: the first 4 bytes of SHA-256 of its file stem, modulo N.
 * Stable across machines and versions, so N processes given 1/N..N/N never overlap and together
 * cover every run.
 */
export function partitionOf(runFileStem: string, count: number): number {
  return (createHash('sha256').update(runFileStem).digest().readUInt32BE(0) % count) + 1;
}
