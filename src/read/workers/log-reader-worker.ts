/**
 * A log-reader worker (`--workers`): reads and normalizes whole log files with the very code the
 * main thread uses (readLogFileRecords) and sends their records back in parts, one read chunk or
 * PART_RECORDS records at a time. It sends at most PARTS_AHEAD parts the main thread has not
 * taken yet; then the read waits (backpressure all the way to the file). One file at a time.
 */
import { parentPort } from 'node:worker_threads';
import type { Rejection, WarningCode } from '../../domain/outcomes.js';
import type { LogCheckpoint } from '../../domain/record-sink.js';
import { readLogFileRecords } from '../read-log-file.js';
import type { FromWorker, LogDocumentData, ToWorker } from '../log-reader-messages.js';

/** Records per part at most (a part also ends at every read chunk's checkpoint). */
const PART_RECORDS = 1000;
/** Parts sent and not yet taken by the main thread, per file. */
const PARTS_AHEAD = 4;

if (!parentPort) throw new Error('log-reader-worker runs as a worker thread only');
const port = parentPort;

/** The file being read and how many more parts it may send now. */
let current = { taskId: 0, credits: 0 };
let wakeUp: (() => void) | undefined;

port.on('message', (message: ToWorker) => {
  if (message.type === 'credit') {
    // A credit for a file already finished (its last parts taken late) is void.
    if (message.taskId !== current.taskId) return;
    current.credits += 1;
    wakeUp?.();
    return;
  }
  void readFile(message);
});

async function readFile(task: Extract<ToWorker, { type: 'read' }>): Promise<void> {
  current = { taskId: task.taskId, credits: PARTS_AHEAD };
  let docs: LogDocumentData[] = [];
  let origins: number[] = [];
  let bytes: number[] = [];
  let rejections: Rejection[] = [];
  let warnings: Array<[WarningCode, string]> = [];
  const send = async (checkpoint?: LogCheckpoint): Promise<void> => {
    while (current.credits <= 0) await new Promise<void>((resolve) => (wakeUp = resolve));
    wakeUp = undefined;
    current.credits -= 1;
    const originsArray = new Float64Array(new ArrayBuffer(origins.length * 8));
    originsArray.set(origins);
    const bytesArray = new Int32Array(new ArrayBuffer(bytes.length * 4));
    bytesArray.set(bytes);
    const part: FromWorker = {
      type: 'part',
      taskId: task.taskId,
      docs,
      origins: originsArray,
      bytes: bytesArray,
      rejections,
      warnings,
      ...(checkpoint ? { checkpoint } : {}),
    };
    port.postMessage(part, [originsArray.buffer, bytesArray.buffer]);
    docs = [];
    origins = [];
    bytes = [];
    rejections = [];
    warnings = [];
  };
  try {
    const position = await readLogFileRecords(task.file, task.input, undefined, {
      record: (record, approximateBytes) => {
        docs.push({ ...record.doc, _id: record.doc._id.id });
        origins.push(record.origin.line ?? 0, record.origin.byteOffset ?? 0);
        bytes.push(approximateBytes);
        return docs.length >= PART_RECORDS ? send() : undefined;
      },
      reject: (rejection) => rejections.push(rejection),
      warn: (code, detail) => warnings.push([code, detail]),
      // A checkpoint ends its part: the main thread offers it once the part's records are handed over.
      checkpoint: (checkpoint) => send(checkpoint),
    });
    if (docs.length > 0 || rejections.length > 0 || warnings.length > 0) await send();
    const end: FromWorker = { type: 'end', taskId: task.taskId, position };
    port.postMessage(end);
  } catch (error) {
    const failed: FromWorker = { type: 'failed', taskId: task.taskId, message: (error as Error).stack ?? String(error) };
    port.postMessage(failed);
  }
}
