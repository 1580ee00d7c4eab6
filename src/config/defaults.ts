import { availableParallelism } from 'node:os';
/** Defaults for every tunable, named so the README and `--help` can cite them. */
export const DEFAULTS = Object.freeze({
  batchSize: 1000,
  batchBytes: 8 * 1024 * 1024,
  concurrency: 4,
  maxFileBytes: 64 * 1024 * 1024,
  maxLineBytes: 16 * 1024 * 1024,
  enumStyle: 'camel' as const,
  logLevel: 'info',
});

/** How the default of `--workers` follows the cores (README, "Performance"). */
export const DEFAULT_WORKERS_RULE = 'the cores less one, at most 4';

/**
 * The default number of log-reader worker threads: the cores less one (the main thread batches
 * and writes, and the driver serializes there), at most 4 (beyond that the main thread's share,
 * not parsing, limits). Measured in README, "Performance".
 */
export function defaultWorkers(cores: number = availableParallelism()): number {
  return Math.max(0, Math.min(cores - 1, 4));
}
