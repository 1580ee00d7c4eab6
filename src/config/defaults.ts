/** Defaults for every tunable, named so the README and `--help` can cite them. */
export const DEFAULTS = Object.freeze({
  batchSize: 1000,
  batchBytes: 8 * 1024 * 1024,
  concurrency: 4,
  maxFileBytes: 64 * 1024 * 1024,
  maxLineBytes: 16 * 1024 * 1024,
  enumStyle: 'camel' as const,
  logLevel: 'info',
  /**
   * Log-reader worker threads: none by default. Measured (README, "Performance"): handing the
   * records of a worker's read back to the main thread costs it about as much as reading them
   * there, so on 2 cores `plan` took 2.2-2.3 s with 0 workers, 2.7-2.9 s with 1 and 2.5 s with 2.
   */
  workers: 0,
});
