/**
 * Log entries already in the database, compared over the wire: what the resume after a kill
 * meets. Both ways of finding the stored entries must give the same outcomes on any server.
 */
import { ObjectId, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogDocument } from '../../src/normalize/documents.js';
import { normalizeLogLine } from '../../src/normalize/log-entry.js';
import { ImportTally } from '../../src/domain/import-tally.js';
import type { ReadStrategy } from '../../src/server/server-profile.js';
import { classifyExistingLogs, insertLogBatch } from '../../src/write/insert-logs.js';
import type { PendingRecord } from '../../src/domain/pending-record.js';
import { logLine } from '../helpers/source-tree.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

function entry(sequence: number, overrides: Record<string, unknown> = {}): PendingRecord<LogDocument> {
  const result = normalizeLogLine(
    { json: logLine({ sequence, message: `line ${sequence}`, ...overrides }), runId: 'run-1', fileStem: 'run-1', lineNumber: sequence },
    { enumStyle: 'camel', warn: () => undefined },
  );
  if (!result.ok) throw new Error(result.message);
  return { doc: result.doc, origin: { file: 'logs/runs/run-1.ndjson', line: sequence } };
}

/** Every lookup the server profile can choose must give the same outcomes on any server. */
const LOOKUPS: Array<Pick<ReadStrategy, 'lookup' | 'runEachLimit'>> = [
  { lookup: 'id-in', runEachLimit: 0 },
  { lookup: 'run-in', runEachLimit: 0 },
  { lookup: 'run-each', runEachLimit: 50 },
];

describe.each(LOOKUPS)('classifyExistingLogs ($lookup)', (lookup) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(`classify_${lookup.lookup}`);
    await t.db.collection('pack_run_logs').createIndex({ runId: 1, sequence: 1 }, { unique: true });
  });
  afterAll(async () => t?.drop());

  it('tells entries written before (unchanged) from other content under the same key (conflict)', async () => {
    const logs = t.db.collection<Document>('pack_run_logs');
    await logs.deleteMany({});
    // Entries 1-3 as an earlier import wrote them (same derived _id).
    await logs.insertMany([entry(1), entry(2), entry(3)].map((record) => record.doc));
    // 4: the same key written by someone else (the live service): its own _id, same content.
    await logs.insertOne({ ...entry(4).doc, _id: new ObjectId() });
    // 5: the same key by someone else with other content.
    await logs.insertOne({ ...entry(5).doc, _id: new ObjectId(), message: 'written by the service' });
    // 6: our _id, other content (the line was edited in the file after the import).
    await logs.insertOne({ ...entry(6).doc, message: 'before the edit' });
    // 7: a timestamp edited in the file: another derived _id, same key.
    await logs.insertOne(entry(7, { timestamp: '2025-11-06T08:00:00Z' }).doc);

    const batch = [1, 2, 3, 4, 5, 6, 7, 8].map((sequence) => entry(sequence));
    const tally = new ImportTally();
    const existing = await insertLogBatch(logs, batch, tally);
    expect(existing.map((record) => record.doc.sequence)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    await classifyExistingLogs(logs, existing, tally, lookup);

    expect(tally.total('inserted')).toBe(1);
    expect(tally.total('unchanged')).toBe(4);
    expect(tally.conflicts.map((conflict) => [conflict.key, conflict.fields])).toEqual([
      ['run-1#5', ['message']],
      ['run-1#6', ['message']],
      ['run-1#7', ['timestamp']],
    ]);
    // Nothing stored was changed by the comparison.
    expect(await logs.countDocuments({})).toBe(8);
    expect((await logs.findOne({ runId: 'run-1', sequence: 5n }))?.message).toBe('written by the service');
  });
});
