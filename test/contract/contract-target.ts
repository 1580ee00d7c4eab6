/**
 * What the server contract suite (server-contract.ts) runs on, and the records it writes.
 *
 * Like unstorage's `testDriver`, the suite is one function of its target: the server the global
 * setup provides (FerretDB on SQLite or PostgreSQL, `mongodb-memory-server`, or whatever
 * `MONGODB_URI` names), plus a FerretDB the suite starts itself for the part that must stop and
 * start a server. An operator's server is never stopped: on a `MONGODB_URI` run that part uses a
 * FerretDB of its own too (so it needs Go), on `TEST_BACKEND`'s backend, else SQLite.
 */
import type { Document, MongoClientOptions } from 'mongodb';
import { inject } from 'vitest';
import type { LogDocument } from '../../src/normalize/documents.js';
import { normalizeLogLine } from '../../src/normalize/log-entry.js';
import type { PendingRecord } from '../../src/domain/pending-record.js';
import { logLine } from '../helpers/source-tree.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';
import { backendFromEnv, type FerretDbBackend } from '../helpers/test-server.js';

export interface ContractTarget {
  /** How the global setup got the server: 'env' (MONGODB_URI), 'mongodb-memory-server', 'ferretdb'. */
  serverKind: string;
  /** FerretDB's storage when the global setup started it ('sqlite' | 'postgresql'), else ''. */
  serverBackend: string;
  /** A fresh database on the server (a user allowed to create and drop databases is needed). */
  open(prefix: string, clientOptions?: MongoClientOptions): Promise<TestDb>;
  /** Drops every database `open` made. */
  dropAll(): Promise<void>;
  /** The backend of the FerretDB the restart tests start for themselves. */
  restartBackend: FerretDbBackend;
}

/** The server of this test run, as test/helpers/global-setup.ts provides it. */
export function globalServerTarget(): ContractTarget {
  const serverKind = inject('serverKind');
  const serverBackend = inject('serverBackend');
  const restartBackend = (serverBackend === 'sqlite' || serverBackend === 'postgresql' ? serverBackend : undefined) ?? backendFromEnv() ?? 'sqlite';
  const opened: TestDb[] = [];
  return {
    serverKind,
    serverBackend,
    async open(prefix, clientOptions = {}) {
      // As the CLI connects: Int64 values read back as bigint.
      const t = await openTestDb(prefix, { useBigInt64: true, ...clientOptions });
      opened.push(t);
      return t;
    },
    async dropAll() {
      await Promise.all(opened.splice(0).map((t) => t.drop().catch(() => undefined)));
    },
    restartBackend,
  };
}

/** A log entry of `runId` as the tool's own normalizer makes it from a source line. */
export function logRecord(runId: string, sequence: number, overrides: Record<string, unknown> = {}): PendingRecord<LogDocument> {
  const result = normalizeLogLine(
    { json: logLine({ sequence, message: `line ${sequence} of ${runId}`, ...overrides }), runId, fileStem: runId, lineNumber: sequence },
    { enumStyle: 'camel', warn: () => undefined },
  );
  if (!result.ok) throw new Error(result.message);
  return { doc: result.doc, origin: { file: `logs/runs/${runId}.ndjson`, line: sequence } };
}

/** `count` entries of each run in `runIds`, sequences 1..count. */
export function logRecords(runIds: readonly string[], count: number): PendingRecord<LogDocument>[] {
  return runIds.flatMap((runId) => Array.from({ length: count }, (_, i) => logRecord(runId, i + 1)));
}

/** The spec's unique key of `pack_run_logs` (collection spec: `{ runId: 1, sequence: 1 }`, unique). */
export const LOG_UNIQUE_KEY = { runId: 1, sequence: 1 } as const;

/** The order in which the server's duplicate-key and read answers are compared: by `_id` as text. */
export function idsOf(docs: readonly Document[]): string[] {
  return docs.map((doc) => String(doc._id)).sort();
}
