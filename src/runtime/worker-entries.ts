/**
 * The worker threads the tool can start, by name: the module of each, relative to `src/` (without
 * extension; a worker lives in the layer whose code it runs, so this file names it without
 * importing it). `startWorker` loads them from dist/ under Node.js; the bundler
 * (scripts/build-single-executable.ts) bundles each one on its own and embeds it in the single
 * executable. Add an entry here and the module, and both work.
 */
export const WORKER_ENTRIES = {
  /** A round trip used by `self-check` (and its tests): proves workers start in this installation. */
  'self-check': 'runtime/workers/self-check-worker',
  /** Reads and normalizes log files for `--workers` (read/log-reader-pool.ts). */
  'log-reader': 'read/workers/log-reader-worker',
} as const;

export type WorkerEntry = keyof typeof WORKER_ENTRIES;

/** The module file of an entry, relative to src/ (without extension). */
export function workerModule(entry: WorkerEntry): string {
  return WORKER_ENTRIES[entry];
}

/** Where the bundler puts an entry's bundle, relative to the main bundle; also its asset key in the single executable. */
export function workerBundlePath(entry: WorkerEntry): string {
  return `workers/${WORKER_ENTRIES[entry].split('/').at(-1) ?? entry}.cjs`;
}
