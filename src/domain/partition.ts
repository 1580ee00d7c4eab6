import { createHash } from 'node:crypto';

/** `--partition K/N`: this process owns the runs whose file stem hashes to K (1-based) of N. */
export interface Partition {
  index: number;
  count: number;
}

export const WHOLE_SOURCE: Partition = Object.freeze({ index: 1, count: 1 });

export function partitionLabel(partition: Partition): string {
  return `${partition.index}/${partition.count}`;
}

/**
 * Which partition a run belongs to: the first 4 bytes of SHA-256 of its file stem, modulo N.
 * Stable across machines and versions, so N processes given 1/N..N/N never overlap and together
 * cover every run.
 */
export function partitionOf(runFileStem: string, count: number): number {
  return (createHash('sha256').update(runFileStem).digest().readUInt32BE(0) % count) + 1;
}
