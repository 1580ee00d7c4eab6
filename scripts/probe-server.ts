/**
 * `node dist/scripts/probe-server.js --uri URI` (or `--backend sqlite|postgresql` to start its own
 * FerretDB, see test/helpers/test-server.ts): measures, over the wire, the server behaviours the
 * importer relies on, and prints them as a table and, as the last stdout line, one JSON object.
 * Dev script, never runtime code; it feeds the "server profile" (what the code may assume where).
 *
 * Facts: identity (buildInfo, hello, backend), schema features (validators, collMod, TTL, partial,
 * sparse, transactions), write semantics (update command sizes, unordered update/insert errors,
 * duplicate-key details, upserted[].index), reads on a log-like collection at --small and --docs
 * documents (timings, explain), $group accumulators, count exactness, and insertMany throughput.
 *
 * Options: --docs 200000 --small 20000 --per-run 200 --batch-size 1000 --concurrency 4
 *          --timeout-ms 15000 (a command that has not answered by then is reported as hung)
 *          --repeat 3 (query timings: median of N) --keep (leave the probe databases)
 * It works in databases named probe_* and drops them at the end.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { MongoClient, ObjectId, type Db, type Document } from 'mongodb';
import yargs from 'yargs';
import { FERRETDB_BACKENDS, redactUri, startFerretDb, type FerretDbBackend, type FerretDbHandle } from '../test/helpers/test-server.js';

const args = await yargs(process.argv.slice(2))
  .option('uri', { type: 'string', describe: 'server to probe (else --backend starts one)' })
  .option('backend', { type: 'string', choices: FERRETDB_BACKENDS as string[], describe: 'start a FerretDB on this backend' })
  .option('docs', { type: 'number', default: 200_000 })
  .option('small', { type: 'number', default: 20_000 })
  .option('per-run', { type: 'number', default: 200, describe: 'log documents per runId' })
  .option('batch-size', { type: 'number', default: 1000 })
  .option('concurrency', { type: 'number', default: 4 })
  .option('timeout-ms', { type: 'number', default: 15_000 })
  .option('repeat', { type: 'number', default: 3 })
  .option('keep', { type: 'boolean', default: false })
  .check((a) => {
    if (!a.uri === !a.backend) throw new Error('give exactly one of --uri and --backend');
    if (a.small >= a.docs) throw new Error('--small must be less than --docs');
    return true;
  })
  .strict()
  .parseAsync();

const log = (line: string): void => void process.stderr.write(`probe: ${line}\n`);
/** The machine may be shared: timings mean little without the load they were taken under. */
const loadAtStart = loadavg().map((l) => Number(l.toFixed(2)));

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

interface Fact {
  section: string;
  fact: string;
  /** The short answer (e.g. "yes", "no (238 NotImplemented)", "12.3 ms"). */
  result: string;
  detail?: string;
  value?: unknown;
}
const facts: Fact[] = [];

function record(section: string, fact: string, result: string, detail?: string, value?: unknown): void {
  facts.push({ section, fact, result, ...(detail ? { detail } : {}), ...(value !== undefined ? { value } : {}) });
  log(`${fact}: ${result}${detail ? ` (${detail})` : ''}`);
}

function errorText(e: unknown): string {
  const code = (e as { code?: string | number }).code;
  const name = (e as { codeName?: string }).codeName;
  let message = e instanceof Error ? e.message : String(e);
  message = message.replace(/\[[^\]]*\.go:\d+[^\]]*\]\s*/g, '').replace(/\s+/g, ' ').trim();
  if (message.length > 140) message = `${message.slice(0, 137)}...`;
  return `${code !== undefined ? `${String(code)}${name ? ` ${String(name)}` : ''}: ` : ''}${message}`;
}

const ms = (t: number): string => (t >= 1000 ? `${(t / 1000).toFixed(2)} s` : `${t.toFixed(1)} ms`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Runs `fn` on a client of its own that gives up after `timeoutMs` (the socket is closed then). */
async function withDeadline<T>(uri: string, timeoutMs: number, fn: (client: MongoClient) => Promise<T>): Promise<{ ok: true; value: T; ms: number } | { ok: false; error: unknown; hung: boolean; ms: number }> {
  const client = new MongoClient(uri, { socketTimeoutMS: timeoutMs, serverSelectionTimeoutMS: 10_000, useBigInt64: true });
  const t0 = performance.now();
  try {
    await client.connect();
    const value = await fn(client);
    return { ok: true, value, ms: performance.now() - t0 };
  } catch (error) {
    const elapsed = performance.now() - t0;
    const hung = /timed out|timeout/i.test(String((error as Error).message)) && elapsed >= timeoutMs * 0.9;
    return { ok: false, error, hung, ms: elapsed };
  } finally {
    await client.close(true).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

let handle: FerretDbHandle | undefined;
let uri: string;
if (args.backend) {
  handle = await startFerretDb({ backend: args.backend as FerretDbBackend, log });
  uri = handle.uri;
  log(`started ${handle.description}`);
} else {
  uri = args.uri ?? '';
}
const client = new MongoClient(uri, { useBigInt64: true, serverSelectionTimeoutMS: 15_000 });
await client.connect();
const admin = client.db('admin');
const run = Date.now().toString(36);
const dbNames: string[] = [];
function probeDb(name: string): Db {
  const full = `probe_${name}_${run}`;
  dbNames.push(full);
  return client.db(full);
}
let exitCode = 0;

try {
  for (const [name, part] of [
    ['identity', identity],
    ['schema', schemaFeatures],
    ['writes', writeSemantics],
    ['aggregation', aggregation],
    ['logs collection', logsCollection],
    ['update sizes', updateCommandSizes], // last: a hung command may keep a lock on the server
  ] as const) {
    try {
      await part();
    } catch (e) {
      exitCode = 1;
      record(name, `(probe part "${name}" failed)`, errorText(e));
    }
  }
} finally {
  if (!args.keep) {
    for (const [i, name] of dbNames.entries()) {
      const dropped = await withDeadline(uri, 30_000, (c) => c.db(name).dropDatabase());
      if (!dropped.ok) {
        log(`could not drop the probe databases (${errorText(dropped.error)}); left: ${dbNames.slice(i).join(' ')}`);
        break;
      }
    }
  }
  await client.close().catch(() => undefined);
  await handle?.stop();
}
printTable();
process.exitCode = exitCode;

// ---------------------------------------------------------------------------------------------
// Identity
// ---------------------------------------------------------------------------------------------

async function identity(): Promise<void> {
  const info = await admin.command({ buildInfo: 1 });
  record('identity', 'buildInfo.version', String(info.version));
  record('identity', 'buildInfo.ferretdbVersion', 'ferretdbVersion' in info ? String(info.ferretdbVersion) : '(absent: not FerretDB)');
  const stages = (info.ferretdbFeatures as { aggregationStages?: string[] } | undefined)?.aggregationStages;
  if (stages) record('identity', 'buildInfo.ferretdbFeatures.aggregationStages', stages.join(' '), undefined, stages);
  const backendKeys = Object.keys(info).filter((k) => /backend|storage|handler/i.test(k));
  record('identity', 'backend named in buildInfo', backendKeys.length ? backendKeys.join(', ') : 'no',
    `buildInfo keys: ${Object.keys(info).join(' ')}`);
  const status: Document = await admin.command({ serverStatus: 1 }).catch((e: unknown) => ({ error: errorText(e) }));
  const storage = (status.storageEngine as { name?: string } | undefined)?.name;
  record('identity', 'serverStatus.storageEngine.name', storage ?? '(absent)');
  const hello = await admin.command({ hello: 1 });
  record('identity', 'hello.setName', hello.setName === undefined ? '(absent: standalone)' : String(hello.setName));
  record('identity', 'hello.msg', hello.msg === undefined ? '(absent: not mongos)' : String(hello.msg));
  record('identity', 'hello.isWritablePrimary', String(hello.isWritablePrimary));
  record('identity', 'hello.maxWriteBatchSize', String(hello.maxWriteBatchSize));
  record('identity', 'hello.logicalSessionTimeoutMinutes', String(hello.logicalSessionTimeoutMinutes ?? '(absent)'));
  if (handle) record('identity', 'backend (started by the probe)', `${handle.backend}${handle.postgres ? ` (${handle.postgres.version})` : ''}`);
  // FerretDB passes its backend's own plan through explain: PostgreSQL's EXPLAIN JSON ("Node
  // Type"), SQLite's EXPLAIN QUERY PLAN rows ("detail=SCAN ..."); MongoDB has winningPlan.
  const db = probeDb('identity');
  await db.collection('logs').insertOne({ runId: 'r' });
  const plan = await db.command({ explain: { find: 'logs', filter: { runId: 'r' } }, verbosity: 'queryPlanner' });
  const text = JSON.stringify(plan.queryPlanner ?? {});
  const backend = /"Node Type"/.test(text) ? 'postgresql' : /detail=/.test(text) ? 'sqlite' : /winningPlan/.test(text) ? 'mongodb' : 'unknown';
  record('identity', 'backend (from the explain plan shape)', backend, text.slice(0, 160));
}

// ---------------------------------------------------------------------------------------------
// Schema features
// ---------------------------------------------------------------------------------------------

async function attempt(fn: () => Promise<unknown>): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    await fn();
    return { ok: true };
  } catch (e) {
    return { ok: false, error: errorText(e) };
  }
}

async function schemaFeatures(): Promise<void> {
  const db = probeDb('schema');
  const section = 'schema';

  const validator = { $jsonSchema: { bsonType: 'object', required: ['a'], properties: { a: { bsonType: 'int' } } } };
  const created = await attempt(() => db.createCollection('validated', { validator, validationLevel: 'strict' }));
  if (created.ok) {
    const bad = await attempt(() => db.collection('validated').insertOne({ b: 1 }));
    record(section, '$jsonSchema validator', bad.ok ? 'accepted but NOT enforced' : 'yes (enforced)', bad.ok ? 'a document without the required field was stored' : bad.error);
  } else {
    record(section, '$jsonSchema validator', `no (${created.error})`);
  }

  await db.createCollection('plain').catch(() => undefined);
  const collMod = await attempt(() => db.command({ collMod: 'plain', validationLevel: 'moderate' }));
  record(section, 'collMod', collMod.ok ? 'yes' : `no (${collMod.error})`);

  const ttl = await attempt(() => db.collection('plain').createIndex({ ts: 1 }, { name: 'ts_ttl', expireAfterSeconds: 3600 }));
  const ttlListed = ttl.ok ? ((await db.collection('plain').listIndexes().toArray()) as Document[]).find((i) => i.name === 'ts_ttl') : undefined;
  record(section, 'TTL index (expireAfterSeconds)', ttl.ok ? `created; listIndexes expireAfterSeconds=${String(ttlListed?.expireAfterSeconds ?? '(absent)')}` : `no (${ttl.error})`);

  const partial = await attempt(() => db.collection('plain').createIndex({ p: 1 }, { name: 'p_partial', partialFilterExpression: { p: { $exists: true } } }));
  record(section, 'partialFilterExpression', partial.ok ? 'yes' : `no (${partial.error})`);

  // sparse: a unique sparse index admits any number of documents without the field; a unique
  // non-sparse one admits one (MongoDB indexes the missing field as null). Both are tried, so a
  // server whose unique indexes skip missing fields anyway is not mistaken for honouring sparse.
  const uniqueWithout = async (sparse: boolean): Promise<string> => {
    const c = db.collection(sparse ? 'sparse_unique' : 'plain_unique');
    const made = await attempt(() => c.createIndex({ t: 1 }, { name: 't_unique', unique: true, ...(sparse ? { sparse: true } : {}) }));
    if (!made.ok) return `index not created (${made.error})`;
    const listed = ((await c.listIndexes().toArray()) as Document[]).find((i) => i.name === 't_unique');
    await c.insertOne({ n: 1 });
    const second = await attempt(() => c.insertOne({ n: 2 }));
    await c.insertOne({ n: 3, t: null });
    const nullTwice = await attempt(() => c.insertOne({ n: 4, t: null }));
    return `listIndexes sparse=${String(listed?.sparse ?? '(absent)')}; 2nd doc without t: ${second.ok ? 'stored' : 'duplicate'}; 2nd doc with t: null: ${nullTwice.ok ? 'stored' : 'duplicate'}`;
  };
  const sparseResult = await uniqueWithout(true);
  const plainResult = await uniqueWithout(false);
  const sparseStored = /2nd doc without t: stored/.test(sparseResult);
  const plainStored = /2nd doc without t: stored/.test(plainResult);
  record(section, 'sparse index', sparseStored && !plainStored ? 'honoured' : sparseStored && plainStored ? 'NOT distinguishable: unique indexes skip missing fields either way' : 'IGNORED',
    `unique sparse {t:1}: ${sparseResult} | unique non-sparse {t:1}: ${plainResult} (MongoDB: sparse stores both, non-sparse refuses the 2nd)`);

  const session = client.startSession();
  try {
    const txn = await attempt(() =>
      session.withTransaction(async () => {
        await db.collection('txn').insertOne({ x: 1 }, { session });
      }),
    );
    let detail = '';
    if (txn.ok) {
      // Does an aborted transaction really roll back?
      session.startTransaction();
      await db.collection('txn').insertOne({ x: 2 }, { session }).catch(() => undefined);
      await session.abortTransaction().catch(() => undefined);
      const left = await db.collection('txn').countDocuments({ x: 2 });
      detail = left === 0 ? 'abort rolled back' : 'abort did NOT roll back';
    }
    record(section, 'transactions', txn.ok ? 'yes' : `no (${txn.error})`, detail || undefined);
  } finally {
    await session.endSession().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Write semantics
// ---------------------------------------------------------------------------------------------

async function writeSemantics(): Promise<void> {
  const db = probeDb('writes');
  const section = 'writes';
  const coll = db.collection('w');
  await coll.createIndex({ k: 1 }, { unique: true, name: 'k_unique' });
  await coll.insertMany([1, 2, 3, 4, 5, 6].map((i) => ({ _id: i as never, k: i, v: 0 })));

  // Unordered update: statement 1 (0-based) fails; do statements 2 and 3 run? Two kinds of error:
  // a duplicate key (unique index k) and a type error ($inc on a string).
  for (const [kind, bad] of [
    ['duplicate key', { $set: { k: 1 } }],
    ['$inc on a string', { $inc: { s: 1 } }],
  ] as const) {
    await coll.updateMany({}, { $set: { v: 0, s: 'text' } });
    const updates = [
      { q: { _id: 1 }, u: { $set: { v: 1 } } },
      { q: { _id: 2 }, u: bad },
      { q: { _id: 3 }, u: { $set: { v: 1 } } },
      { q: { _id: 4 }, u: { $set: { v: 1 } } },
    ];
    let answer: string;
    let errs: Array<{ index: number; code: number }> = [];
    try {
      const res = await db.command({ update: 'w', updates, ordered: false });
      errs = (res.writeErrors as Array<{ index: number; code: number }> | undefined) ?? [];
      answer = `n=${String(res.n)} nModified=${String(res.nModified)} writeErrors at [${errs.map((e) => e.index).join(',')}] codes [${errs.map((e) => e.code).join(',')}]`;
    } catch (e) {
      answer = `the whole command failed: ${errorText(e)}`;
    }
    const applied = (await coll.find({ _id: { $in: [1, 3, 4] as never[] }, v: 1 }).toArray()).map((d) => d._id as unknown as number);
    record(section, `unordered update continues after an error (${kind})`,
      applied.includes(3) && applied.includes(4) ? 'yes' : 'NO: stops at the first error',
      `${answer}; statements applied: _id ${applied.join(',') || 'none'} of 1,3,4`,
      { applied, writeErrorIndexes: errs.map((e) => e.index) });
  }

  // Unordered insert: duplicates at 1 and 3.
  const ins = await db.command({
    insert: 'w',
    documents: [{ _id: 10, k: 10 }, { _id: 11, k: 1 }, { _id: 12, k: 12 }, { _id: 13, k: 2 }, { _id: 14, k: 14 }],
    ordered: false,
  });
  const insErrs = (ins.writeErrors as Array<{ index: number; code: number; keyPattern?: unknown; keyValue?: unknown; errmsg?: string }> | undefined) ?? [];
  record(section, 'unordered insert: per-index writeErrors',
    insErrs.map((e) => e.index).join(',') === '1,3' && ins.n === 3 ? 'yes' : 'NO',
    `n=${String(ins.n)}, writeErrors at [${insErrs.map((e) => e.index).join(',')}] codes [${insErrs.map((e) => e.code).join(',')}] (expected n=3 at [1,3])`);
  const first = insErrs[0];
  record(section, 'duplicate-key error carries keyPattern/keyValue',
    first?.keyPattern !== undefined && first.keyValue !== undefined ? 'yes' : 'no',
    first ? `keyPattern=${JSON.stringify(first.keyPattern) ?? '(absent)'} keyValue=${JSON.stringify(first.keyValue) ?? '(absent)'}; errmsg: ${String(first.errmsg).slice(0, 120)}` : 'no error returned');

  // upserted[].index in a mixed batch: statements 1 and 3 (0-based) upsert.
  const mixed = await db.command({
    update: 'w',
    updates: [
      { q: { _id: 5 }, u: { $set: { v: 2 } }, upsert: true },
      { q: { _id: 100 }, u: { $set: { v: 2, k: 100 } }, upsert: true },
      { q: { _id: 6 }, u: { $set: { v: 2 } }, upsert: true },
      { q: { _id: 101 }, u: { $set: { v: 2, k: 101 } }, upsert: true },
    ],
    ordered: true,
  });
  const upserted = (mixed.upserted as Array<{ index: number; _id: unknown }> | undefined) ?? [];
  const pairs = upserted.map((u) => `${u.index}->${String(u._id)}`).join(', ');
  record(section, 'upserted[].index in a mixed batch', pairs === '1->100, 3->101' ? 'correct' : 'WRONG', `got [${pairs}], expected [1->100, 3->101]; n=${String(mixed.n)} nModified=${String(mixed.nModified)}`);
}

/**
 * FerretDB v1.24 keeps each update statement's query open until the whole command ends (a
 * `defer` in its statement loop), each holding one backend connection: a command, or several
 * concurrent ones, needing more than the pool (SQLite 100 per database, PostgreSQL 50 by default)
 * waits forever, and the pool stays exhausted afterwards. So sizes go in ascending order; after a
 * hang the probe restarts its own server (--backend), or stops this part (--uri).
 */
async function updateCommandSizes(): Promise<void> {
  const section = 'writes';
  const timeout = args['timeout-ms'];
  let blocked = false;
  const trial = async (label: string, commands: number, statements: number): Promise<void> => {
    if (blocked) {
      record(section, label, 'not tried (the server is blocked by an earlier hang)');
      return;
    }
    const name = `probe_upd_${commands}x${statements}_${run}`;
    dbNames.push(name);
    const seed = await withDeadline(uri, timeout, (c) =>
      c.db(name).collection('u').insertMany(Array.from({ length: commands * statements }, (_, i) => ({ _id: i as never, v: 0 }))),
    );
    if (!seed.ok) {
      record(section, label, `not tried: seeding failed (${errorText(seed.error)})`);
      blocked = true;
      return;
    }
    const r = await withDeadline(uri, timeout, (c) =>
      Promise.all(
        Array.from({ length: commands }, (_, k) =>
          c.db(name).command({
            update: 'u',
            updates: Array.from({ length: statements }, (_, i) => ({ q: { _id: k * statements + i }, u: { $set: { v: 1 } } })),
            ordered: true,
          }),
        ),
      ),
    );
    if (r.ok) {
      const modified = r.value.reduce((sum, res) => sum + Number(res.nModified ?? 0), 0);
      record(section, label, `answers in ${ms(r.ms)}`, `nModified=${modified}`, { ms: r.ms, hung: false });
      return;
    }
    record(section, label, r.hung ? `HANGS (no answer in ${timeout / 1000} s)` : `error (${errorText(r.error)})`, undefined, { hung: r.hung });
    if (!r.hung) return;
    if (handle) {
      const backend = handle.backend;
      log('restarting the probe\'s server after the hang');
      await handle.stop();
      handle = await startFerretDb({ backend, log });
      uri = handle.uri;
    } else {
      blocked = true;
    }
  };
  for (const size of [10, 25, 45, 48, 49, 50, 98, 99, 100, 500]) await trial(`update command with ${size} statements`, 1, size);
  for (const size of [10, 13, 25, 40]) await trial(`4 concurrent update commands of ${size} statements`, 4, size);
}

// ---------------------------------------------------------------------------------------------
// Aggregation
// ---------------------------------------------------------------------------------------------

async function aggregation(): Promise<void> {
  const db = probeDb('agg');
  const coll = db.collection('a');
  await coll.insertMany([{ g: 'x', n: 1 }, { g: 'x', n: 2 }, { g: 'y', n: 3 }]);
  const accumulators = ['$sum', '$count', '$avg', '$min', '$max', '$first', '$last', '$push', '$addToSet'];
  const ok: string[] = [];
  const no: string[] = [];
  for (const acc of accumulators) {
    const expr = acc === '$count' ? {} : '$n';
    const r = await attempt(() => coll.aggregate([{ $group: { _id: '$g', out: { [acc]: expr } } }]).toArray());
    (r.ok ? ok : no).push(r.ok ? acc : `${acc} (${r.error.split(':')[0] ?? ''})`);
  }
  record('aggregation', '$group accumulators', ok.join(' ') || 'none', no.length ? `not: ${no.join('; ')}` : undefined, { supported: ok });
  const stages: Array<[string, Document[]]> = [
    ['$lookup', [{ $lookup: { from: 'a', localField: 'g', foreignField: 'g', as: 'same' } }]],
    ['$facet', [{ $facet: { a: [{ $match: {} }] } }]],
    ['$addFields', [{ $addFields: { m: 1 } }]],
    ['$sortByCount', [{ $sortByCount: '$g' }]],
  ];
  const stageOk: string[] = [];
  const stageNo: string[] = [];
  for (const [name, pipeline] of stages) {
    const r = await attempt(() => coll.aggregate(pipeline).toArray());
    (r.ok ? stageOk : stageNo).push(name);
  }
  record('aggregation', 'other stages', `yes: ${stageOk.join(' ') || 'none'}; no: ${stageNo.join(' ') || 'none'}`);
}

// ---------------------------------------------------------------------------------------------
// A log-like collection: throughput, reads at two sizes, counts
// ---------------------------------------------------------------------------------------------

function logDoc(i: number, perRun: number): Document & { _id: ObjectId; runId: string } {
  const r = Math.floor(i / perRun);
  const seq = (i % perRun) + 1;
  return {
    _id: new ObjectId(),
    runId: `run-${String(r).padStart(6, '0')}`,
    sequence: BigInt(seq),
    timestamp: new Date(Date.UTC(2024, 0, 1) + i * 1000),
    level: seq % 10 === 0 ? 'warn' : 'info',
    eventType: 'step.log',
    stepId: `step-${seq % 7}`,
    message: `line ${seq} of run ${r}: ${'x'.repeat(60)}`,
    metadata: { attempt: '1', host: 'worker-3' },
  };
}

/** Explain summary: which plan nodes / index names it shows, and FerretDB's filterPushdown. */
async function explainFind(db: Db, filter: Document): Promise<{ summary: string; index: boolean | undefined; pushdown: unknown }> {
  try {
    const res = await db.command({ explain: { find: 'logs', filter }, verbosity: 'queryPlanner' });
    const notes: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') {
        if (/\b(SCAN|SEARCH)\b/.test(v)) notes.push(v.replace(/^.*detail=/, ''));
        return;
      }
      if (Array.isArray(v)) return v.forEach(walk);
      if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
          if ((k === 'Node Type' || k === 'stage' || k === 'Index Name' || k === 'indexName') && typeof x === 'string') notes.push(x);
          else walk(x);
        }
      }
    };
    walk(res.queryPlanner ?? res);
    const text = notes.join(' > ');
    const index = notes.length === 0 ? undefined : /Index Scan|Index Only Scan|Bitmap Index Scan|SEARCH .*USING|IXSCAN|IDHACK|EXPRESS/i.test(text);
    return { summary: text || '(no plan nodes)', index, pushdown: res.filterPushdown };
  } catch (e) {
    return { summary: `explain failed: ${errorText(e)}`, index: undefined, pushdown: undefined };
  }
}

async function logsCollection(): Promise<void> {
  const db = probeDb('logs');
  const coll = db.collection('logs');
  await coll.createIndex({ runId: 1, sequence: 1 }, { unique: true, name: 'runId_1_sequence_1' });
  await coll.createIndex({ runId: 1, timestamp: 1 }, { name: 'runId_1_timestamp_1' });
  const perRun = args['per-run'];
  const ids: ObjectId[] = [];
  let inserted = 0;
  let insertMs = 0;

  async function insertUpTo(total: number): Promise<number> {
    const t0 = performance.now();
    let next = inserted;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const from = next;
        const to = Math.min(total, from + args['batch-size']);
        next = to;
        const docs = [];
        for (let i = from; i < to; i++) {
          const d = logDoc(i, perRun);
          ids[i] = d._id;
          docs.push(d);
        }
        await coll.insertMany(docs, { ordered: false });
      }
    };
    await Promise.all(Array.from({ length: args.concurrency }, worker));
    const elapsed = performance.now() - t0;
    insertMs += elapsed;
    inserted = total;
    return elapsed;
  }

  const smallMs = await insertUpTo(args.small);
  record('import', `insertMany ${args.small.toLocaleString('en')} docs (batches of ${args['batch-size']}, ${args.concurrency} in flight)`,
    `${ms(smallMs)} = ${Math.round(args.small / (smallMs / 1000)).toLocaleString('en')} docs/s`, 'two unique-ish secondary indexes in place', { ms: smallMs });
  const small = await readTimings(db, args.small, ids);
  await insertUpTo(args.docs);
  record('import', `insertMany ${args.docs.toLocaleString('en')} docs (same)`,
    `${ms(insertMs)} = ${Math.round(args.docs / (insertMs / 1000)).toLocaleString('en')} docs/s`, `(the first ${args.small.toLocaleString('en')} included)`, { ms: insertMs, docsPerSecond: args.docs / (insertMs / 1000) });
  const large = await readTimings(db, args.docs, ids);

  for (const [name, s] of Object.entries(small)) {
    const l = large[name];
    if (!l) continue;
    const ratio = l.ms / Math.max(s.ms, 0.01);
    const sizeRatio = args.docs / args.small;
    const scan = ratio > sizeRatio / 3;
    const verdict = l.index === true && !scan ? 'index' : l.index === false || scan ? 'SCAN' : 'index?';
    record('reads', name,
      `${verdict}: ${ms(s.ms)} at ${args.small / 1000}k, ${ms(l.ms)} at ${args.docs / 1000}k (x${ratio.toFixed(1)})`,
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- filterPushdown is a boolean in the explain output when present
      `rows ${l.rows}; explain at ${args.docs / 1000}k: ${l.plan}${l.pushdown !== undefined ? `; filterPushdown=${String(l.pushdown)}` : ''}`,
      { smallMs: s.ms, largeMs: l.ms, rows: l.rows, indexInPlan: l.index, filterPushdown: l.pushdown });
  }

  // One full read (verify's scan), and where a full read starts after one that stopped early
  // (PostgreSQL's synchronized sequential scans start where the last scan of a large table was).
  const position = new Map(ids.map((id, index) => [String(id), index]));
  const firstIndex = async (): Promise<number> => {
    const doc = await coll.find({}, { batchSize: 10 }).limit(1).next();
    return doc ? (position.get(String(doc._id)) ?? -1) : -1;
  };
  const full = await timed(async () => {
    let n = 0;
    for await (const doc of coll.find({}, { batchSize: 1000 })) if (doc) n += 1;
    return n;
  });
  record('reads', `find {} (every document, one cursor)`, `${ms(full.ms)} = ${Math.round(full.value / (full.ms / 1000)).toLocaleString('en')} docs/s`,
    `${full.value} documents; cf. the insertMany rate above`, { ms: full.ms, docs: full.value });
  const before = await firstIndex();
  const partial = coll.find({}, { batchSize: 1000 });
  let read = 0;
  for await (const doc of partial) if (doc && ++read >= Math.floor(args.docs * 0.6)) break;
  const after = await firstIndex();
  record('reads', 'where a full read starts, after one stopped at 60 %',
    after <= args.docs * 0.05 ? `at the start (document ${after})` : `not at the start: document ${after} of ${args.docs}`,
    `before: document ${before}`, { before, after });

  // Counts: exact or not, right after the import, and how long each takes.
  const stats = await timed(() => db.command({ collStats: 'logs' }));
  const est = await timed(() => coll.estimatedDocumentCount());
  const exact = await timed(() => coll.countDocuments({}));
  const show = (n: unknown): string => `${String(n)}${Number(n) === args.docs ? ' (exact)' : ` (off by ${Number(n) - args.docs})`}`;
  record('counts', 'collStats.count', show(stats.value.count), `${ms(stats.ms)}`, Number(stats.value.count));
  record('counts', 'estimatedDocumentCount', show(est.value), `${ms(est.ms)}`, est.value);
  record('counts', 'countDocuments({})', show(exact.value), `${ms(exact.ms)}`, exact.value);
}

interface ReadTiming {
  ms: number;
  rows: number;
  plan: string;
  index: boolean | undefined;
  pushdown: unknown;
}

async function readTimings(db: Db, size: number, ids: ObjectId[]): Promise<Record<string, ReadTiming>> {
  const coll = db.collection('logs');
  const perRun = args['per-run'];
  const runs = Math.floor(size / perRun);
  const pick = (k: number): number => Math.floor((size * (k + 0.37)) / (args.repeat + 1)) % size;
  const runOf = (i: number): string => `run-${String(Math.floor(i / perRun)).padStart(6, '0')}`;
  const cases: Array<[string, (k: number) => Document]> = [
    ['findOne {_id: X}', (k) => ({ _id: ids[pick(k)] })],
    ['find {_id: {$in: [1 id]}}', (k) => ({ _id: { $in: [ids[pick(k)]] } })],
    ['find {_id: {$in: [1000 ids]}}', (k) => ({ _id: { $in: Array.from({ length: 1000 }, (_, j) => ids[(pick(k) + j * 97) % size]) } })],
    ['find {runId: X}', (k) => ({ runId: runOf(pick(k)) })],
    ['find {runId: {$in: [5 runs]}}', (k) => ({ runId: { $in: Array.from({ length: 5 }, (_, j) => runOf((pick(k) + j * perRun * 3) % size)) } })],
    ['find {runId: X, sequence: N}', (k) => ({ runId: runOf(pick(k)), sequence: BigInt((pick(k) % perRun) + 1) })],
  ];
  const out: Record<string, ReadTiming> = {};
  log(`reads at ${size} documents (${runs} runs)`);
  for (const [name, filter] of cases) {
    const times: number[] = [];
    let rows = 0;
    for (let k = 0; k < args.repeat; k++) {
      const f = filter(k);
      const t = await timed(() => (name.startsWith('findOne') ? coll.findOne(f).then((d) => (d ? [d] : [])) : coll.find(f).toArray()));
      times.push(t.ms);
      rows = t.value.length;
    }
    const plan = await explainFind(db, filter(0));
    out[name] = { ms: median(times), rows, plan: plan.summary, index: plan.index, pushdown: plan.pushdown };
  }
  // The ledger's pattern: upsert by _id into a large collection.
  const up = await timed(() => coll.updateOne({ _id: ids[pick(0)] }, { $set: { probe: 1 } }, { upsert: true }));
  out['updateOne {_id: X} (upsert)'] = { ms: up.ms, rows: up.value.matchedCount, plan: '(update: no explain)', index: undefined, pushdown: undefined };
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

function printTable(): void {
  const rows = facts.map((f) => [f.section, f.fact, f.result]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length), ['section', 'fact', 'result'][c]?.length ?? 0));
  const line = (cells: string[]): string => `| ${cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const out: string[] = [];
  out.push(`Server probe of ${handle ? handle.description : redactUri(uri)} (${new Date().toISOString()}; load average at start ${loadAtStart.join(' ')}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  out.push(line(['section', 'fact', 'result']));
  out.push(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) out.push(line(r));
  out.push('');
  out.push('Details:');
  for (const f of facts) if (f.detail) out.push(`- ${f.fact}: ${f.detail}`);
  process.stdout.write(`${out.join('\n')}\n`);
  const json = {
    server: handle ? handle.description : redactUri(uri),
    backend: handle?.backend,
    measuredAt: new Date().toISOString(),
    loadAverage: { start: loadAtStart, end: loadavg().map((l) => Number(l.toFixed(2))) },
    options: { docs: args.docs, small: args.small, perRun: args['per-run'], batchSize: args['batch-size'], concurrency: args.concurrency, repeat: args.repeat },
    facts: facts.map(({ section, fact, result, detail, value }) => ({ section, fact, result, detail, value })),
  };
  process.stdout.write(`${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}
