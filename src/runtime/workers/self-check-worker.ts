/**
 * The `self-check` worker: answers one message with what it sees, computed by the tool's own
 * modules (so a bundle that left them out, or a worker that cannot load them, fails the check).
 */
import { isMainThread, parentPort, threadId } from 'node:worker_threads';
import { partitionOf } from '../../domain/partition.js';
import { TOOL_VERSION } from '../../tool-version.js';
import { isSingleExecutable } from '../installation.js';

/** What the main thread sends. */
export interface SelfCheckRequest {
  /** A file stem to place in a partition, as the importer does. */
  stem: string;
  partitions: number;
}

/** What the worker answers. */
export interface SelfCheckReply {
  threadId: number;
  isMainThread: boolean;
  toolVersion: string;
  singleExecutable: boolean;
  partition: number;
}

if (!parentPort) throw new Error('self-check-worker runs as a worker thread only');
const port = parentPort;
port.once('message', (request: SelfCheckRequest) => {
  const reply: SelfCheckReply = {
    threadId,
    isMainThread,
    toolVersion: TOOL_VERSION,
    singleExecutable: isSingleExecutable(),
    partition: partitionOf(request.stem, request.partitions),
  };
  port.postMessage(reply);
  port.close();
});
