import type { VerifyCounts } from '../report/verify-report.js';

/**
 * The verdict of a verification: it passes when every source record is in the database, or was
 * rejected and accepted as not imported by the operator (`--accept-rejections`). A rejection that
 * was not accepted fails it, like a missing record: that record is not in the database. Extra
 * documents fail only with --strict; documents kept newer by the database are what import is
 * designed to leave alone and never fail it.
 */
export function verifyPassed(totals: VerifyCounts, strict: boolean): boolean {
  if (totals.missing > 0 || totals.mismatched > 0 || totals.rejected > 0) return false;
  return !(strict && totals.extra > 0);
}
