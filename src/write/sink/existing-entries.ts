import type { LogDocument } from '../../normalize/documents.js';
import type { PendingRecord } from '../../domain/pending-record.js';
import { fileKey, type FileCompletion } from './file-completion.js';

/**
 * Log entries that already existed when inserted (a duplicate key): each must still be compared
 * with the stored one (`unchanged` or `conflict`). They are gathered and compared many at a time,
 * one comparison at a time: existing entries come in runs (the batches in flight when an import
 * was killed, a file imported before), and where a comparing read is a scan, few large reads are
 * far cheaper than many small ones. A gathered run is compared once it is over, that is once every
 * batch started before the last existing entries were met has answered, or once `perLookup`
 * entries are waiting (memory). Their files stay held (see FileCompletion) until compared.
 */
export class ExistingEntries {
  private gathered: PendingRecord<LogDocument>[] = [];
  /** The last batch started when existing entries were last met: batches up to it may bring more. */
  private horizon = -1;
  private comparing: Promise<void> | undefined;

  constructor(
    private readonly completion: FileCompletion,
    /** Reads the stored entries and records an outcome for each record. */
    private readonly compare: (records: readonly PendingRecord<LogDocument>[]) => Promise<void>,
    private readonly perLookup: number,
  ) {}

  /** Existing entries met by a batch; `lastStarted` is the id of the last batch started so far. */
  met(records: readonly PendingRecord<LogDocument>[], lastStarted: number): void {
    if (records.length === 0) return;
    this.horizon = lastStarted;
    const perFile = new Map<string, number>();
    for (const record of records) {
      const key = fileKey({ role: 'logs', relativePath: record.origin.file });
      perFile.set(key, (perFile.get(key) ?? 0) + 1);
    }
    for (const [key, count] of perFile) this.completion.existingMet(key, count);
    this.gathered.push(...records);
  }

  /** Whether to compare now: enough gathered, or the run of existing entries is over. */
  due(answeredThrough: number): boolean {
    return this.gathered.length >= this.perLookup || (this.gathered.length > 0 && answeredThrough >= this.horizon);
  }

  /** A comparison in progress, for writers that must pause beside it. */
  inProgress(): Promise<void> | undefined {
    return this.comparing;
  }

  /** Compares everything gathered so far (waiting for a comparison already running). */
  async compareGathered(): Promise<void> {
    while (this.comparing) await this.comparing;
    if (this.gathered.length === 0) return;
    const records = this.gathered;
    this.gathered = [];
    this.comparing = this.compare(records);
    try {
      await this.comparing;
    } finally {
      this.comparing = undefined;
    }
    const perFile = new Map<string, number>();
    for (const record of records) {
      const key = fileKey({ role: 'logs', relativePath: record.origin.file });
      perFile.set(key, (perFile.get(key) ?? 0) + 1);
    }
    for (const [key, count] of perFile) this.completion.existingCompared(key, count);
  }
}
