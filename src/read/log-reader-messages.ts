import type { Rejection, WarningCode } from '../domain/outcomes.js';
import type { FilePosition, LogCheckpoint } from '../domain/record-sink.js';
import type { SourceFile } from '../domain/source-file.js';
import type { LogDocument } from '../normalize/documents.js';
import type { LogReadInput } from './read-log-file.js';

/**
 * The messages between the main thread and a log-reader worker (read/workers/log-reader-worker.ts).
 * Everything in them survives a structured clone: the one class instance of a log document, its
 * ObjectId `_id`, travels as its 12 bytes and is made an ObjectId again by the pool.
 */

/** The plain-data part of a source file a worker needs. */
export type LogFileData = Pick<SourceFile, 'relativePath' | 'absolutePath' | 'size' | 'mtimeMs'>;

/** A log document as it crosses threads: `_id` as bytes. */
export type LogDocumentData = Omit<LogDocument, '_id'> & { _id: Uint8Array };

export type ToWorker =
  /** Read this file from its first byte. */
  | { type: 'read'; taskId: number; file: LogFileData; input: LogReadInput }
  /** The main thread took one part of this task: the worker may send one more. */
  | { type: 'credit'; taskId: number };

export type FromWorker =
  /**
   * The file's next records, in order, with what happened between them: rejections and warnings
   * (applied after the records), then at most one checkpoint (offered after all of them).
   */
  | {
      type: 'part';
      taskId: number;
      docs: LogDocumentData[];
      /** Per record: line number and byte offset, in pairs. */
      origins: Float64Array;
      /** Per record: its approximate size in a batch. */
      bytes: Int32Array;
      rejections: Rejection[];
      warnings: Array<[WarningCode, string]>;
      checkpoint?: LogCheckpoint;
    }
  | { type: 'end'; taskId: number; position: FilePosition }
  | { type: 'failed'; taskId: number; message: string };
