/** Exit codes, decided here only (documented in the README). */
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

export interface OutcomeTotals {
  rejected: number;
  conflict: number;
}

/** Exit code of a finished import or plan. */
export function importExitCode(complete: boolean, totals: OutcomeTotals): number {
  if (!complete) return EXIT_CODES.interrupted;
  return totals.rejected > 0 || totals.conflict > 0 ? EXIT_CODES.issues : EXIT_CODES.ok;
}

/**
 * Exit code of `verify` when `--report` was asked for: the comparison's code when it is not 0
 * (the comparison is what the operator acts on); a passed comparison whose report could not be
 * written is a failure (1), because the report is what gets attached to the change ticket.
 */
export function verifyExitCode(comparisonCode: number, reportWritten: boolean): number {
  if (comparisonCode !== EXIT_CODES.ok || reportWritten) return comparisonCode;
  return EXIT_CODES.failure;
}
