import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';

export type WriteProbeResult =
  | { ok: true; createdCollection: boolean; ms: number }
  | { ok: false; step: 'insert' | 'delete'; error: string; code?: number };

/**
 * Tests that this connection may write, harmlessly: inserts one document with an id of its own
 * (`preflight:<uuid>`) into the importer's ledger collection and deletes it again. Nothing else
 * is touched; the data collections never are. The ledger collection is created by the insert if
 * it did not exist (as the first import's first write would create it). A failed delete is
 * reported: the document is then left in the ledger, where it is ignored (kind `preflight`).
 */
export async function probeWrite(db: Db, ledger: string, existed: boolean, who: { host: string; pid: number }): Promise<WriteProbeResult> {
  const collection = db.collection<{ _id: string; kind: string; host: string; pid: number; at: Date }>(ledger);
  const id = `preflight:${randomUUID()}`;
  const started = Date.now();
  try {
    await collection.insertOne({ _id: id, kind: 'preflight', host: who.host, pid: who.pid, at: new Date() });
  } catch (error) {
    return { ok: false, step: 'insert', error: (error as Error).message, ...codeOf(error) };
  }
  try {
    await collection.deleteOne({ _id: id });
  } catch (error) {
    return { ok: false, step: 'delete', error: (error as Error).message, ...codeOf(error) };
  }
  return { ok: true, createdCollection: !existed, ms: Date.now() - started };
}

function codeOf(error: unknown): { code?: number } {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? { code } : {};
}
