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
