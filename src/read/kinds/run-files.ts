import type { Document } from 'mongodb';
import type { ImportTally } from '../../domain/import-tally.js';
import { quoteName } from '../../domain/record-key.js';
import type { SourceFile } from '../../domain/source-file.js';
import type { NormalizeContext } from '../../normalize/normalize-context.js';
import { runIdToFileStem } from '../../normalize/run-id-file-names.js';
import { normalizeRunState } from '../../normalize/run-state.js';
import { fileStem } from '../../scan/find-source-files.js';
import { withoutBytes } from '../read-log-file.js';
import type { SourceReadOptions } from '../source-options.js';
import { rejectRecord } from './rejections.js';
import { inPartition, type KindReaderContext, type SourceKindReader } from './source-kind-reader.js';
import { readWholeJson, storable } from './whole-json-file.js';

/** A state file to read; `ledgerDone`: the ledger has it done but not its runId, so it is read only for that. */
export interface RunFilePlan {
  ledgerDone: boolean;
}

/**
 * State files, one run each. Every partition reads every state file, even one the ledger has done
 * (unless it knows the runId): their runIds attribute the other kinds' files. Which partition owns
 * a run is known only from the runId inside, so `decide` never says `other-partition`.
 */
export function runFiles({ options, normalize, tally, hooks, runIds }: KindReaderContext): SourceKindReader<RunFilePlan> {
  const firstFileOfRun = new Map<string, string>();
  const noteRunId = (runId: string, file: SourceFile): void => {
    runIds.add(runId);
    const first = firstFileOfRun.get(runId);
    if (first) tally.warn('duplicate-run-id', `run ${quoteName(runId)} is claimed by ${quoteName(first)} and ${quoteName(file.relativePath)}; the newer version wins`);
    else firstFileOfRun.set(runId, file.relativePath);
  };
  return {
    role: 'runs',
    lookAhead: 0,
    files: (inventory) => inventory.files.runs,
    decide(file) {
      const skip = hooks.skipFile?.(file) ?? false;
      const knownRunId = skip ? hooks.runIdOfSkipped?.(file) : undefined;
      if (knownRunId === undefined) return { action: 'read', plan: { ledgerDone: skip } };
      noteRunId(knownRunId, file);
      return { action: 'skip' };
    },
    async read(file, { ledgerDone }, out) {
      const owns = (stem: string): boolean => !ledgerDone && inPartition(hooks, stem);
      const read = await readRunFile(file, options, normalize, tally, owns);
      if (read.document) noteRunId(read.document._id, file);
      if (!read.owned) return undefined;
      if (read.document) await out.add({ doc: read.document, origin: { file: file.relativePath } });
      return {
        endOffset: file.size,
        nextLine: 1,
        records: read.document ? 1 : 0,
        rejected: 0,
        ...(read.sha256 ? { sha256: read.sha256 } : {}),
        ...(read.document ? { runId: read.document._id } : {}),
      };
    },
  };
}

/**
 * Reads one state file. Always parsed (its runId is needed by every partition); rejections and
 * the document count only where `owns` says the run belongs to this process.
 */
async function readRunFile(
  file: SourceFile,
  options: SourceReadOptions,
  context: NormalizeContext,
  tally: ImportTally,
  owns: (runFileStem: string) => boolean,
): Promise<{ document?: Document & { _id: string }; owned: boolean; sha256?: string }> {
  const read = await readWholeJson(file, options, tally);
  const sha256 = read.sha256 ? { sha256: read.sha256 } : {};
  if (!read.parsed) {
    const owned = owns(fileStem(file.relativePath));
    if (owned) read.reject?.();
    return { owned, ...sha256 };
  }
  // Warnings from a file another partition owns are that partition's to report.
  const quiet: NormalizeContext = { enumStyle: context.enumStyle, warn: () => undefined };
  const probe = normalizeRunState({ json: read.json, fileStem: fileStem(file.relativePath) }, quiet);
  const stem = probe.ok ? runIdToFileStem(probe.doc._id) : fileStem(file.relativePath);
  const owned = owns(stem);
  const result = owned ? storable(normalizeRunState({ json: read.json, fileStem: fileStem(file.relativePath) }, context)) : storable(probe);
  if (!result.ok) {
    if (owned) rejectRecord(tally, 'runs', { file: file.relativePath }, result, read.sha256 ?? withoutBytes(file, result.reason));
    return { owned, ...sha256 };
  }
  return { document: result.doc, owned, ...sha256 };
}
