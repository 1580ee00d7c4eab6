/**
 * How this copy of the tool was installed: from dist/ (repository, npm package), as the single-file
 * bundle, or as the single executable (the bundle inside a Node binary).
 */
import * as sea from 'node:sea';

/**
 * esbuild replaces `TASKRUNNER_BACKFILL_BUNDLE` by an object literal in the bundle
 * (scripts/build-single-executable.ts); everywhere else (tsc's dist/, vitest) the name is
 * undeclared and `typeof` finds it undefined.
 */
declare const TASKRUNNER_BACKFILL_BUNDLE: BundleInfo | undefined;

/** What the bundler fixed at build time. */
export interface BundleInfo {
  /** The package version (the bundle has no package.json beside it). */
  version: string;
}

/** Set when running from the single-file bundle (also inside the single executable). */
export const BUNDLE: BundleInfo | undefined = typeof TASKRUNNER_BACKFILL_BUNDLE === 'object' ? TASKRUNNER_BACKFILL_BUNDLE : undefined;

/** True inside the single executable (Node's single executable application). */
export function isSingleExecutable(): boolean {
  return sea.isSea();
}
