import type { Document } from 'mongodb';
import type { CollectionRole } from '../domain/collection-roles.js';
import type { ImportTally } from '../domain/import-tally.js';
import type { PendingRecord } from '../domain/pending-record.js';
import type { FilePosition, LogCheckpoint, RecordSink } from '../domain/record-sink.js';
import type { SourceFile } from '../domain/source-file.js';
import type { NormalizeContext } from '../normalize/normalize-context.js';
import { RunIdIndex } from '../normalize/run-id-file-names.js';
import type { SourceInventory } from '../scan/find-source-files.js';
import { approvalFiles } from './kinds/approval-files.js';
import { artifactManifests } from './kinds/artifact-manifests.js';
import { logFiles } from './kinds/log-files.js';
import { runFiles } from './kinds/run-files.js';
import type { KindReaderContext, KindReaderFactory, RecordOutlet, SourceKindReader } from './kinds/source-kind-reader.js';
import type { ReadHooks } from './read-hooks.js';
import type { SourceReadOptions } from './source-options.js';

export type { ReadHooks, ResumePoint } from './read-hooks.js';

/**
 * The kinds of source file, in the order they are read. Runs first: the runIds in the state files
 * attribute log and approval files to runs. A new kind is one more reader here (see
 * kinds/source-kind-reader.ts). Typed with `unknown` plans: the driver never looks into a plan, it
 * only hands a reader back what that reader's own `decide` or `prepare` returned.
 */
const KIND_READERS: ReadonlyArray<KindReaderFactory<unknown>> = [runFiles, approvalFiles, artifactManifests, logFiles];

/**
 * The one read path of the tool: every command reads the source through here, so import, plan
 * and verify see exactly the same records, rejections and warnings. Each kind is read in turn by
 * its reader, and its records are handed over before the next kind starts.
 */
export async function readSourceRecords(
  inventory: SourceInventory,
  options: SourceReadOptions,
  tally: ImportTally,
  sink: RecordSink,
  hooks: ReadHooks = {},
): Promise<{ runIds: RunIdIndex }> {
  const normalize: NormalizeContext = { enumStyle: options.enumStyle, warn: (code, detail) => tally.warn(code, detail) };
  const context: KindReaderContext = { options, normalize, tally, hooks, runIds: new RunIdIndex() };
  const batches = new BatchBuffers(options, sink);
  // A reader is made when its turn comes (the logs reader starts its worker pool then).
  for (const makeReader of KIND_READERS) await readKind(makeReader(context), inventory, tally, batches);
  return { runIds: context.runIds };
}

/**
 * Reads one kind's files in order: each is decided (and prepared, `lookAhead` files ahead of its
 * read), read into the kind's buffer, and handed over with the rejections the tally saw during
 * its read. The kind ends by flushing its buffer, so its files are written (and marked done)
 * without waiting for the end.
 */
async function readKind<Plan>(reader: SourceKindReader<Plan>, inventory: SourceInventory, tally: ImportTally, batches: BatchBuffers): Promise<void> {
  try {
    const files = reader.files(inventory);
    const ahead: Array<{ file: SourceFile; plan: Plan }> = [];
    let next = 0;
    for (;;) {
      while (next < files.length && ahead.length <= reader.lookAhead) {
        const file = files[next++] as SourceFile;
        const decision = reader.decide(file);
        if (decision.action !== 'read') continue;
        ahead.push({ file, plan: reader.prepare ? reader.prepare(file, decision.plan) : decision.plan });
      }
      const turn = ahead.shift();
      if (!turn) break;
      const rejectedBefore = tally.rejectionsSeen();
      const position = await reader.read(turn.file, turn.plan, batches.outlet(reader.role, turn.file));
      // Another partition's file, found out by reading it: nothing of it was reported.
      if (!position) continue;
      position.rejected = tally.rejectionsSeen() - rejectedBefore;
      await batches.handOver(turn.file, position);
    }
  } finally {
    await reader.close?.();
  }
  await batches.flush(reader.role);
}

/**
 * Per-collection buffers that hand full batches (by count or bytes) to the sink. A file is handed
 * over only after the batch holding its last records went to the sink, so the ledger can never
 * mark a file done while some of its records still sit in a buffer.
 */
class BatchBuffers {
  private readonly buffers = new Map<CollectionRole, { records: PendingRecord<Document>[]; bytes: number }>();
  /** Log checkpoints whose last records still sit in the logs buffer. */
  private checkpoints: Array<{ file: SourceFile; checkpoint: LogCheckpoint }> = [];
  private readonly waiting = new Map<CollectionRole, Array<{ file: SourceFile; position: FilePosition }>>();

  constructor(
    private readonly options: SourceReadOptions,
    private readonly sink: RecordSink,
  ) {}

  /** Not async: a promise (and a suspended caller) per log line was a visible share of the import's CPU and garbage. */
  add(role: CollectionRole, record: PendingRecord<Document>, approximateBytes = 512): Promise<void> | undefined {
    let buffer = this.buffers.get(role);
    if (!buffer) this.buffers.set(role, (buffer = { records: [], bytes: 0 }));
    buffer.records.push(record);
    buffer.bytes += approximateBytes;
    if (buffer.records.length >= this.options.batchSize || buffer.bytes >= this.options.batchBytes) return this.flush(role);
    return undefined;
  }

  /** Where a reader puts one file's records. */
  outlet(role: CollectionRole, file: SourceFile): RecordOutlet {
    return {
      add: (record, approximateBytes) => this.add(role, record, approximateBytes),
      checkpoint: (checkpoint) => this.logCheckpoint(file, checkpoint),
    };
  }

  async handOver(file: SourceFile, position: FilePosition): Promise<void> {
    if (!this.sink.fileHandedOver) return;
    // A file's records are added contiguously just before it is handed over: checking the last is enough.
    const buffered = this.buffers.get(file.role)?.records.at(-1)?.origin.file === file.relativePath;
    if (!buffered) {
      await this.sink.fileHandedOver(file, position);
      return;
    }
    const waiting = this.waiting.get(file.role) ?? [];
    waiting.push({ file, position });
    this.waiting.set(file.role, waiting);
  }

  /** Passes a log checkpoint on once the records before it have gone to the sink. */
  logCheckpoint(file: SourceFile, checkpoint: LogCheckpoint): void {
    if (!this.sink.logCheckpoint) return;
    if ((this.buffers.get('logs')?.records.length ?? 0) === 0) this.sink.logCheckpoint(file, checkpoint);
    else this.checkpoints.push({ file, checkpoint });
  }

  async flush(role: CollectionRole): Promise<void> {
    const buffer = this.buffers.get(role);
    if (buffer && buffer.records.length > 0) {
      this.buffers.set(role, { records: [], bytes: 0 });
      await this.sink.accept(role, buffer.records);
    }
    if (role === 'logs' && this.checkpoints.length > 0) {
      const ready = this.checkpoints;
      this.checkpoints = [];
      for (const { file, checkpoint } of ready) this.sink.logCheckpoint?.(file, checkpoint);
    }
    const waiting = this.waiting.get(role);
    if (waiting && waiting.length > 0) {
      this.waiting.set(role, []);
      for (const { file, position } of waiting) await this.sink.fileHandedOver?.(file, position);
    }
  }
}
