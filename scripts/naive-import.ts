/**
 * The naive importer the benchmark compares the tool's client CPU with (issue 13): read each file,
 * `JSON.parse` each line, turn dates into `Date` and `sequence` into an Int64, `insertMany`
 * unordered with `--concurrency` batches in flight, into collections with the same indexes. No
 * validation, no attribution, no derived `_id`s, no ledger, no outcomes: the floor of what any
 * importer of this data must spend. Dev script, never runtime code.
 *
 *   node dist/scripts/naive-import.js --source DIR --uri URI --db NAME [--batch-size 1000] [--concurrency 4]
 *
 * Prints one JSON line: documents written, wall ms, and this process's CPU (user + system, all threads).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { MongoClient, type Document } from 'mongodb';
import pLimit from 'p-limit';
import yargs from 'yargs';

const args = await yargs(process.argv.slice(2))
  .option('source', { type: 'string', demandOption: true })
  .option('uri', { type: 'string', demandOption: true })
  .option('db', { type: 'string', demandOption: true })
  .option('batch-size', { type: 'number', default: 1000 })
  .option('concurrency', { type: 'number', default: 4 })
  .strict()
  .parseAsync();

const started = performance.now();
const client = new MongoClient(args.uri, { useBigInt64: true });
await client.connect();
const db = client.db(args.db);
const logs = db.collection('pack_run_logs');
await logs.createIndex({ runId: 1, sequence: 1 }, { unique: true });
await logs.createIndex({ runId: 1, timestamp: 1 });
await logs.createIndex({ timestamp: 1 });
await db.collection('pack_artifacts').createIndex({ runId: 1, name: 1 }, { unique: true });
await db.collection('pack_run_approvals').createIndex({ runId: 1, approvalId: 1 }, { unique: true });
await db.collection('pack_runs').createIndex({ updatedAt: -1 });

const limit = pLimit(args.concurrency);
const inFlight = new Set<Promise<void>>();
let written = 0;
async function send(collection: string, docs: Document[]): Promise<void> {
  while (inFlight.size >= args.concurrency) await Promise.race(inFlight);
  const task = limit(async () => {
    await db.collection(collection).insertMany(docs, { ordered: false });
    written += docs.length;
  });
  inFlight.add(task);
  void task.finally(() => inFlight.delete(task));
}

const dates = (doc: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> => {
  for (const field of fields) if (typeof doc[field] === 'string') doc[field] = new Date(doc[field]);
  return doc;
};

const files = (pattern: string): Promise<string[]> => fg(pattern, { cwd: args.source, absolute: true });
let batch: Document[] = [];
const flush = async (collection: string): Promise<void> => {
  if (batch.length > 0) await send(collection, batch);
  batch = [];
};

for (const file of await files('state/runs/*.json')) {
  const run = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  batch.push(dates({ _id: run.runId, ...run }, ['requestedAt', 'createdAt', 'updatedAt']));
  if (batch.length >= args.batchSize) await flush('pack_runs');
}
await flush('pack_runs');
for (const file of await files('state/approvals/*.json')) {
  const runId = path.basename(file, '.json');
  for (const approval of JSON.parse(await readFile(file, 'utf8')) as Array<Record<string, unknown>>) {
    batch.push(dates({ runId, ...approval }, ['requestedAt', 'completedAt']));
    if (batch.length >= args.batchSize) await flush('pack_run_approvals');
  }
}
await flush('pack_run_approvals');
for (const file of await files('artifacts/*/artifact-manifest.json')) {
  const manifest = JSON.parse(await readFile(file, 'utf8')) as { runId: string; uploadedAt: string; outputs: Array<Record<string, unknown>> };
  for (const output of manifest.outputs) {
    batch.push({ runId: manifest.runId, ...output, capturedAt: new Date(manifest.uploadedAt) });
    if (batch.length >= args.batchSize) await flush('pack_artifacts');
  }
}
await flush('pack_artifacts');
for (const file of await files('logs/runs/*.ndjson')) {
  const runId = path.basename(file, '.ndjson');
  const lines = (await readFile(file, 'utf8')).split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.length === 0) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    batch.push({ runId, sequence: BigInt(i + 1), ...entry, timestamp: new Date(entry.timestamp as string) });
    if (batch.length >= args.batchSize) await flush('pack_run_logs');
  }
}
await flush('pack_run_logs');
await Promise.all(inFlight);
await client.close();
const cpu = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ documents: written, ms: Math.round(performance.now() - started), cpuMs: Math.round((cpu.user + cpu.system) / 1000) })}\n`);
