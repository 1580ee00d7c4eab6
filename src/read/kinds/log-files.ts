import type { FilePosition } from '../../domain/record-sink.js';
import type { SourceFile } from '../../domain/source-file.js';
import type { StemResolution } from '../../normalize/run-id-file-names.js';
import { fileStem } from '../../scan/find-source-files.js';
import { LogReaderPool, type LogReadTask } from '../log-reader-pool.js';
import { readLogFileRecords, withoutBytes, type LogReadEvents } from '../read-log-file.js';
import { decideByFileName, runIdForFile } from './attribution.js';
import { rejectFile } from './rejections.js';
import { type KindReaderContext, type RecordOutlet, type SourceKindReader } from './source-kind-reader.js';

/** A log file this process reads: its attribution, and its worker task when a worker reads it. */
export interface LogFilePlan {
  resolution: StemResolution;
  task?: LogReadTask;
}

/**
 * NDJSON log files, attributed to a run by their file name. With `--workers N` a pool reads and
 * normalizes them 2N files ahead of their turn; their records are still handed over here, one
 * file after another, in the order of the files. The pool starts with the logs' turn and stops
 * with it.
 */
export function logFiles({ options, normalize, tally, hooks, runIds }: KindReaderContext): SourceKindReader<LogFilePlan> {
  const pool = options.workers !== undefined && options.workers > 0 ? new LogReaderPool(options.workers) : undefined;

  /** Where a file's records, rejections, warnings and checkpoints go in the main thread. */
  const events = (out: RecordOutlet): LogReadEvents => ({
    record: (record, approximateBytes) => out.add(record, approximateBytes),
    reject: (rejection) => tally.reject(rejection),
    warn: (code, detail) => normalize.warn(code, detail),
    checkpoint: (checkpoint) => out.checkpoint(checkpoint),
  });

  return {
    role: 'logs',
    // Enough files in flight to keep every worker busy while the main thread replays one.
    lookAhead: pool ? 2 * pool.size : 0,
    files: (inventory) => inventory.files.logs,
    decide(file) {
      const decision = decideByFileName(file, hooks, runIds);
      return decision.action === 'read' ? { action: 'read', plan: { resolution: decision.plan } } : decision;
    },
    /**
     * Hands the file to a worker when one can read it: not an unreadable, empty or ambiguously
     * named file, nor one the ledger may resume (its running hash lives in the main thread).
     */
    prepare(file, plan) {
      const { resolution } = plan;
      if (!pool || file.unreadable || file.size === 0 || resolution.kind === 'ambiguous') return plan;
      if (hooks.mayResume ? hooks.mayResume(file, resolution.runId) : hooks.resumeLog !== undefined) return plan;
      const data = { relativePath: file.relativePath, absolutePath: file.absolutePath, size: file.size, mtimeMs: file.mtimeMs };
      const input = { runId: resolution.runId, fileStem: fileStem(file.relativePath), maxLineBytes: options.maxLineBytes, enumStyle: options.enumStyle };
      return { ...plan, task: pool.submit(data, input) };
    },
    async read(file: SourceFile, { resolution, task }, out): Promise<FilePosition> {
      if (file.unreadable) {
        rejectFile(tally, file, 'unreadable', `the path ${file.unreadable}`, withoutBytes(file, `unreadable ${file.unreadable}`));
        return { endOffset: 0, nextLine: 1, records: 0, rejected: 0 };
      }
      // Attribution is reported (and an orphan marked in the ledger) before any record is handed over.
      const runId = await runIdForFile(file, resolution, normalize, tally, hooks);
      if (runId === undefined) return { endOffset: 0, nextLine: 1, records: 0, rejected: 0 };
      let position: FilePosition;
      if (task) {
        position = await task.replay(events(out));
      } else {
        const resume = await hooks.resumeLog?.(file, runId);
        const input = { runId, fileStem: fileStem(file.relativePath), maxLineBytes: options.maxLineBytes, enumStyle: options.enumStyle };
        position = await readLogFileRecords(file, input, resume, events(out));
      }
      position.runId = runId;
      return position;
    },
    close: async () => {
      await pool?.close();
    },
  };
}
