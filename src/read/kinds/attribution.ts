import type { ImportTally } from '../../domain/import-tally.js';
import { quoteName } from '../../domain/record-key.js';
import type { SourceFile } from '../../domain/source-file.js';
import type { NormalizeContext } from '../../normalize/normalize-context.js';
import type { RunIdIndex, StemResolution } from '../../normalize/run-id-file-names.js';
import { fileStem } from '../../scan/find-source-files.js';
import type { ReadHooks } from '../read-hooks.js';
import { withoutBytes } from '../read-log-file.js';
import { rejectFile } from './rejections.js';
import { inPartition, type FileDecision } from './source-kind-reader.js';

/**
 * The decision for a file attributed to its run by its name (logs, approvals): the partition by
 * the name, before the ledger is asked; the ledger skips it only while it still goes to the run
 * it went to last time.
 */
export function decideByFileName(file: SourceFile, hooks: ReadHooks, runIds: RunIdIndex): FileDecision<StemResolution> {
  const stem = fileStem(file.relativePath);
  if (!inPartition(hooks, stem)) return { action: 'other-partition' };
  const resolution = runIds.resolve(stem);
  if (hooks.skipFile?.(file, attributedRunId(resolution))) return { action: 'skip' };
  return { action: 'read', plan: resolution };
}

/** The run a log or approvals file's records go to, or null when its name is ambiguous. */
export function attributedRunId(resolution: StemResolution): string | null {
  return resolution.kind === 'ambiguous' ? null : resolution.runId;
}

/**
 * Reports how a log or approvals file was attributed and returns its run; an ambiguous name
 * rejects the whole file. Names are quoted with non-ASCII escaped: two runIds that differ only in
 * Unicode normal form must not print alike.
 */
export async function runIdForFile(
  file: SourceFile,
  resolution: StemResolution,
  context: NormalizeContext,
  tally: ImportTally,
  hooks: ReadHooks,
): Promise<string | undefined> {
  if (resolution.kind === 'ambiguous') {
    rejectFile(
      tally,
      file,
      'ambiguous-run-id',
      `the file name matches several runs (${resolution.runIds.map(quoteName).join(', ')}); nothing in it was imported`,
      withoutBytes(file, `ambiguous ${JSON.stringify(resolution.runIds)}`),
    );
    return undefined;
  }
  if (resolution.kind === 'orphan') {
    tally.orphanRunIds.add(resolution.runId);
    context.warn('orphan', `${quoteName(file.relativePath)} matches no state file; imported under runId ${quoteName(resolution.runId)}`);
    await hooks.orphanAttributed?.(file, resolution.runId);
  } else if (resolution.normalizedFrom) {
    context.warn(
      'unicode-normalization',
      `${quoteName(file.relativePath)} is named in Unicode ${resolution.normalizedFrom === 'NFD' ? 'NFD' : 'another normal form'} and matches run ` +
        `${quoteName(resolution.runId)} only in NFC; attributed to that run`,
    );
  }
  return resolution.runId;
}
