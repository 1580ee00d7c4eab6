import { UsageError } from '../errors.js';
import type { SourceGlobs } from '../scan/find-source-files.js';
import { checkSourceLayout, describeMissingLayout } from '../scan/source-layout.js';

/**
 * A --source with no run state file at all is almost always the wrong folder (`logs/` instead of
 * the root): import would write nothing and say every record is accounted for, and verify would
 * pass. It is a usage error (exit 2) naming the expected layout and the likely root, unless the
 * operator says `--allow-empty`.
 */
export async function assertSourceHasRunStates(source: string, globs: SourceGlobs, allowEmpty: boolean | undefined): Promise<void> {
  if (allowEmpty === true) return;
  const missing = await checkSourceLayout(source, globs);
  if (missing) throw new UsageError(`${describeMissingLayout(missing, globs)} Pass --allow-empty to go on anyway.`);
}
