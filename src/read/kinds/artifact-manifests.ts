import type { Document } from 'mongodb';
import type { ImportTally } from '../../domain/import-tally.js';
import type { PendingRecord, RecordOrigin } from '../../domain/pending-record.js';
import { fingerprintOf } from '../../domain/rejection-acceptance.js';
import type { SourceFile } from '../../domain/source-file.js';
import { normalizeArtifactOutput, readManifestHeader } from '../../normalize/artifact-manifest.js';
import type { NormalizeContext } from '../../normalize/normalize-context.js';
import { runIdToFileStem } from '../../normalize/run-id-file-names.js';
import { parentFolderName } from '../../scan/find-source-files.js';
import { withoutBytes } from '../read-log-file.js';
import type { SourceReadOptions } from '../source-options.js';
import { rejectRecord } from './rejections.js';
import { inPartition, type KindReaderContext, type SourceKindReader } from './source-kind-reader.js';
import { readWholeJson, storable, wholeFilePosition } from './whole-json-file.js';

/**
 * Artifact manifests, one per run folder, each naming its run inside. The ledger decides before
 * the read; the partition only after it (by the runId inside, else the folder's name).
 */
export function artifactManifests({ options, normalize, tally, hooks }: KindReaderContext): SourceKindReader<undefined> {
  return {
    role: 'artifacts',
    lookAhead: 0,
    files: (inventory) => inventory.files.artifacts,
    decide(file) {
      if (hooks.skipFile?.(file)) return { action: 'skip' };
      return { action: 'read', plan: undefined };
    },
    async read(file, _plan, out) {
      const read = await readManifestFile(file, options, normalize, tally, (stem) => inPartition(hooks, stem));
      if (!read.owned) return undefined;
      for (const record of read.records) await out.add(record);
      return wholeFilePosition(file, read);
    },
  };
}

async function readManifestFile(
  file: SourceFile,
  options: SourceReadOptions,
  context: NormalizeContext,
  tally: ImportTally,
  owns: (runFileStem: string) => boolean,
): Promise<{ records: PendingRecord<Document>[]; owned: boolean; sha256?: string }> {
  const read = await readWholeJson(file, options, tally);
  const sha256 = read.sha256 ? { sha256: read.sha256 } : {};
  const folderName = parentFolderName(file.relativePath);
  if (!read.parsed) {
    const owned = owns(folderName);
    if (owned) read.reject?.();
    return { records: [], owned, ...sha256 };
  }
  const quiet: NormalizeContext = { enumStyle: context.enumStyle, warn: () => undefined };
  const probe = readManifestHeader({ json: read.json, folderName }, quiet);
  const owned = owns(probe.ok ? runIdToFileStem(probe.doc.runId) : folderName);
  if (!owned) return { records: [], owned, ...sha256 };
  const header = readManifestHeader({ json: read.json, folderName }, context);
  if (!header.ok) {
    rejectRecord(tally, 'artifacts', { file: file.relativePath }, header, read.sha256 ?? withoutBytes(file, header.reason));
    return { records: [], owned, ...sha256 };
  }
  const records: PendingRecord<Document>[] = [];
  header.doc.outputs.forEach((output, index) => {
    const origin: RecordOrigin = { file: file.relativePath };
    const result = storable(normalizeArtifactOutput(output, header.doc, context));
    if (result.ok) records.push({ doc: result.doc, origin });
    else rejectRecord(tally, 'artifacts', { ...origin, element: index }, { reason: result.reason, message: `output [${index}]: ${result.message}` }, fingerprintOf(JSON.stringify(output) ?? 'undefined'));
  });
  return { records, owned, ...sha256 };
}
