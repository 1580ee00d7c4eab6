import type { Db } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import type { OrphanMarker } from '../ledger/ledger-types.js';
import { approvalElements, normalizeApproval } from '../normalize/approval.js';
import { normalizeLogLine } from '../normalize/log-entry.js';
import type { NormalizeContext } from '../normalize/normalize-context.js';
import { fileStem } from '../scan/find-source-files.js';
import type { SourceFile } from '../domain/source-file.js';
import { readJsonFile } from '../scan/read-json-file.js';
import { readLogLines } from '../scan/read-log-lines.js';
import type { SourceReadOptions } from '../read/source-options.js';
import { moveOrphanCopies, type OrphanPair } from '../write/move-orphan-copies.js';

/** Pairs compared and moved per round trip. */
const PAIRS_PER_ROUND = 500;

export interface RehomeResult {
  /** Orphan copies deleted (their records are in the run now). */
  moved: number;
  /** Documents still stored under the file-name runId afterwards. */
  remaining: number;
}

/**
 * Moves the records of a once-orphaned file to the run it belongs to now: reads the file again,
 * normalizes each record under both runIds, and deletes the orphan copies this tool wrote (see
 * `moveOrphanCopies`). Runs after the import wrote the file's records under their run. The copies
 * of records that changed since, or that another writer touched, stay and are counted.
 */
export async function rehomeOrphanFile(
  db: Db,
  collections: CollectionNames,
  options: SourceReadOptions,
  marker: OrphanMarker,
  file: SourceFile,
  runId: string,
  beforeWrite: () => Promise<void>,
): Promise<RehomeResult> {
  const quiet: NormalizeContext = { enumStyle: options.enumStyle, warn: () => undefined };
  const collection = db.collection(collections[marker.role]);
  let moved = 0;
  const flush = async (pairs: OrphanPair[]): Promise<void> => {
    await beforeWrite();
    moved += await moveOrphanCopies(collection, marker.role === 'logs' ? 'sequence' : 'approvalId', pairs);
  };
  if (marker.role === 'logs') {
    let pairs: OrphanPair[] = [];
    const stem = fileStem(file.relativePath);
    for await (const lines of readLogLines(file.absolutePath, { endOffset: file.size, maxLineBytes: options.maxLineBytes })) {
      for (const line of lines) {
        if (line.text === undefined || line.text.trim().length === 0) continue;
        let json: unknown;
        try {
          json = JSON.parse(line.text);
        } catch {
          continue;
        }
        const input = { json, fileStem: stem, lineNumber: line.lineNumber };
        const placed = normalizeLogLine({ ...input, runId }, quiet);
        const orphanCopy = normalizeLogLine({ ...input, runId: marker.runId }, quiet);
        // A line that names its own run was stored under that run both times: nothing to move.
        if (!placed.ok || !orphanCopy.ok || orphanCopy.doc.runId !== marker.runId || placed.doc.runId !== runId) continue;
        pairs.push({ placed: placed.doc, orphanCopy: orphanCopy.doc });
        if (pairs.length >= PAIRS_PER_ROUND) {
          await flush(pairs);
          pairs = [];
        }
      }
    }
    await flush(pairs);
  } else {
    const read = await readJsonFile(file.absolutePath, options.maxFileBytes);
    const elements = read.ok ? approvalElements(read.json) : undefined;
    if (elements?.ok) {
      const pairs: OrphanPair[] = [];
      for (const element of elements.doc) {
        const placed = normalizeApproval(element, runId, quiet);
        const orphanCopy = normalizeApproval(element, marker.runId, quiet);
        if (placed.ok && orphanCopy.ok) pairs.push({ placed: placed.doc, orphanCopy: orphanCopy.doc });
      }
      await flush(pairs);
    }
  }
  const remaining = await collection.countDocuments({ runId: marker.runId });
  return { moved, remaining };
}
