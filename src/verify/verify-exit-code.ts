import { EXIT_CODES } from '../cli/exit-codes.js';
import type { VerifyCounts } from '../report/verify-report.js';

/**
 * The verdict of a verification (issue: "0 when nothing is missing or mismatched; 3 otherwise;
 * extra documents and source rejections only fail with --strict"). Documents kept newer by the
 * database are what import is designed to leave alone: they never fail the run.
 */
export function verifyPassed(totals: VerifyCounts, strict: boolean): boolean {
  if (totals.missing > 0 || totals.mismatched > 0) return false;
  return !(strict && (totals.extra > 0 || totals.rejected > 0));
}

export function verifyExitCode(complete: boolean, passed: boolean): number {
  if (!complete) return EXIT_CODES.interrupted;
  return passed ? EXIT_CODES.ok : EXIT_CODES.issues;
}
