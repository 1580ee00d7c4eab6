import { BackfillRuntimeError, UsageError, type RuntimeErrorCode } from '../errors.js';
import type { ImportReport } from '../report/import-report.js';
import type { PreflightReport } from '../report/preflight-report.js';
import type { SchemaReport } from '../report/schema-report.js';
import type { VerifyReport } from '../report/verify-report.js';

/**
 * The exit-code policy of every command, decided here only (documented in the README, "Exit
 * codes"). Use cases return reports with their outcomes (complete, totals, passed, ...) and no
 * exit code; the commands ask this module for the code, print it with the report (`exitCode` in
 * the `--json` output) and exit with it. The programmatic API exports these functions, so an API
 * caller computes the code the CLI would exit with.
 */
export const EXIT_CODES = Object.freeze({
  /** Everything imported (or verified) cleanly. */
  ok: 0,
  /** The run failed: database unreachable, bad credentials, a bug. Nothing is half-done unsafely. */
  failure: 1,
  /** The command line or configuration is wrong. */
  usage: 2,
  /** Finished, with rejections or conflicts (import), or missing/mismatched records (verify). */
  issues: 3,
  /** Stopped before the end (SIGINT/SIGTERM, or the database stayed away): run the same command again. */
  interrupted: 4,
});

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/**
 * `import` and `plan`: 4 when stopped before the end, 3 with rejections (not accepted) or
 * conflicts, else 0. With `strict` (`import --strict`, which stops at the first rejection) a
 * rejection is 3 even though the run stopped: the rejection is the verdict, not the stop.
 */
export function importExitCode(report: Pick<ImportReport, 'complete' | 'totals'>, options: { strict?: boolean } = {}): ExitCode {
  if (options.strict && report.totals.rejected > 0) return EXIT_CODES.issues;
  if (!report.complete) return EXIT_CODES.interrupted;
  return report.totals.rejected > 0 || report.totals.conflict > 0 ? EXIT_CODES.issues : EXIT_CODES.ok;
}

/**
 * `verify`: 4 when stopped before the end, 3 when the verification failed (see `passed`), else 0.
 * With `--report`, `reportWritten` says whether the report file was written: a passed comparison
 * whose report could not be written is a failure (1), because the report is what gets attached to
 * the change ticket; a failed or stopped comparison keeps its own code (it is what the operator
 * acts on).
 */
export function verifyExitCode(report: Pick<VerifyReport, 'complete' | 'passed'>, options: { reportWritten?: boolean } = {}): ExitCode {
  if (!report.complete) return EXIT_CODES.interrupted;
  if (!report.passed) return EXIT_CODES.issues;
  return options.reportWritten === false ? EXIT_CODES.failure : EXIT_CODES.ok;
}

/** `schema` (and `schema --check`): 0 when nothing is missing or differs where it matters, 3 otherwise (also when it stopped before writing). */
export function schemaExitCode(report: Pick<SchemaReport, 'check' | 'stopped'>): ExitCode {
  return report.check.passed && report.stopped === null ? EXIT_CODES.ok : EXIT_CODES.issues;
}

/** `preflight`: 1 when the database could not be used at all (unreachable, credentials refused), 3 when a line failed, else 0. */
export function preflightExitCode(report: Pick<PreflightReport, 'connected' | 'passed'>): ExitCode {
  if (!report.connected) return EXIT_CODES.failure;
  return report.passed ? EXIT_CODES.ok : EXIT_CODES.issues;
}

/** `self-check`: 0 when every check of the installation passed, 1 otherwise. */
export function selfCheckExitCode(report: { ok: boolean }): ExitCode {
  return report.ok ? EXIT_CODES.ok : EXIT_CODES.failure;
}

/** Runtime errors that mean "stopped before the end; run the same command again". */
const INTERRUPTING: ReadonlySet<RuntimeErrorCode> = new Set<RuntimeErrorCode>(['DB_UNAVAILABLE', 'INTERRUPTED', 'LEASE_LOST']);

/**
 * The exit code of a command that threw: 2 for a usage error (ours or yargs'), 4 for a runtime
 * error that stopped the run before the end (database unavailable after retries, a signal, the
 * lease lost), 1 for any other runtime error and for a bug.
 */
export function errorExitCode(error: unknown): ExitCode {
  if (error instanceof UsageError || (error instanceof Error && error.name === 'YError')) return EXIT_CODES.usage;
  if (error instanceof BackfillRuntimeError) return INTERRUPTING.has(error.code) ? EXIT_CODES.interrupted : EXIT_CODES.failure;
  return EXIT_CODES.failure;
}
