import type { Document } from 'mongodb';
import type { ImportTally } from '../../domain/import-tally.js';
import type { PendingRecord, RecordOrigin } from '../../domain/pending-record.js';
import { fingerprintOf } from '../../domain/rejection-acceptance.js';
import type { SourceFile } from '../../domain/source-file.js';
import { approvalElements, normalizeApproval } from '../../normalize/approval.js';
import type { NormalizeContext } from '../../normalize/normalize-context.js';
import type { StemResolution } from '../../normalize/run-id-file-names.js';
import { withoutBytes } from '../read-log-file.js';
import type { SourceReadOptions } from '../source-options.js';
import { decideByFileName, runIdForFile } from './attribution.js';
import { rejectFile, rejectRecord } from './rejections.js';
import type { KindReaderContext, SourceKindReader } from './source-kind-reader.js';
import { readWholeJson, storable, wholeFilePosition } from './whole-json-file.js';

/**
 * Approvals files, one JSON array per run, attributed to a run by their file name. The partition
 * is decided by the name, before the ledger is asked; the ledger skips a file only while it still
 * goes to the run it went to last time.
 */
export function approvalFiles({ options, normalize, tally, hooks, runIds }: KindReaderContext): SourceKindReader<StemResolution> {
  return {
    role: 'approvals',
    lookAhead: 0,
    files: (inventory) => inventory.files.approvals,
    decide: (file) => decideByFileName(file, hooks, runIds),
    async read(file, resolution, out) {
      const runId = await runIdForFile(file, resolution, normalize, tally, hooks);
      const read = runId === undefined ? { records: [] } : await readApprovalFile(file, options, runId, normalize, tally);
      for (const record of read.records) await out.add(record);
      return { ...wholeFilePosition(file, read), ...(runId === undefined ? {} : { runId }) };
    },
  };
}

async function readApprovalFile(
  file: SourceFile,
  options: SourceReadOptions,
  runId: string,
  context: NormalizeContext,
  tally: ImportTally,
): Promise<{ records: PendingRecord<Document>[]; sha256?: string }> {
  const read = await readWholeJson(file, options, tally);
  const sha256 = read.sha256 ? { sha256: read.sha256 } : {};
  if (!read.parsed) {
    read.reject?.();
    return { records: [], ...sha256 };
  }
  const elements = approvalElements(read.json);
  if (!elements.ok) {
    rejectFile(tally, file, elements.reason, elements.message, read.sha256 ?? withoutBytes(file, elements.reason));
    return { records: [], ...sha256 };
  }
  const records: PendingRecord<Document>[] = [];
  elements.doc.forEach((element, index) => {
    const origin: RecordOrigin = { file: `${file.relativePath}` };
    const result = storable(normalizeApproval(element, runId, context));
    if (result.ok) records.push({ doc: result.doc, origin });
    else rejectRecord(tally, 'approvals', { ...origin, element: index }, { reason: result.reason, message: `approval [${index}]: ${result.message}` }, fingerprintOf(JSON.stringify(element) ?? 'undefined'));
  });
  return { records, ...sha256 };
}
