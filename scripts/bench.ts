/**
 * `npm run bench`: how close the importer gets to what the server can take, in one run, on one
 * server and one synthetic tree. Dev script, never runtime code.
 *
 *   A  the tool's first import into an empty database (the built CLI as a child process)
 *   B  the same already-normalized documents written with the raw driver (insertMany, unordered,
 *      same batch size and concurrency) into an empty database: the physical limit here
 *   C  the tool's re-run over the unchanged tree
 *   D  the tool importing the tree again after being killed (SIGKILL) at 50 %
 *
 * Each is repeated (--repeat, default 3) and the medians are reported. The last line of stdout is
 * one JSON object (importVsRaw, rerunVsImport, resumeVsImport, peakRssMb, docsPerSecond, ...);
 * the same figures go to --out (default .bench/bench-results.json).
 *
 * Options: --runs 2000 --lines 1000000 --repeat 3 --batch-size 1000 --concurrency 4
 *          --compare-documents (dump A, B and D and compare byte for byte; for small sizes)
 *          --phases ABCD (a subset, e.g. `--lines 4000000 --phases A` for peak RSS at 4x size)
 * The D run's own log is kept in .bench/resume-repN.log (how many entries it met again, and
 * how long comparing them took).
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BSON, MongoClient, type Db, type Document } from 'mongodb';
import pLimit from 'p-limit';
import yargs from 'yargs';
import { DEFAULT_COLLECTION_NAMES } from '../src/config/collection-names.js';
import { DEFAULTS } from '../src/config/defaults.js';
import { readSourceRecords } from '../src/read/read-source-records.js';
import { ImportTally } from '../src/domain/import-tally.js';
import { COLLECTION_ROLES, type CollectionRole } from '../src/domain/collection-roles.js';
import { DEFAULT_SOURCE_GLOBS, findSourceFiles } from '../src/scan/find-source-files.js';
import { detectServerProfile, schemaServer } from '../src/server/server-profile.js';
import { ensureSchema } from '../src/write/ensure-schema.js';
import { dumpDatabase, sameBytes } from '../test/helpers/dump.js';
import { makeSyntheticTree } from '../test/helpers/synthetic-tree.js';
import { startTestServer } from '../test/helpers/test-server.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
// Preloaded into the CLI child: reports its own peak RSS at exit (kilobytes, from getrusage).
const rssProbe = `data:text/javascript,process.on('exit',()=>process.stderr.write('BENCH_MAXRSS_KB '+process.resourceUsage().maxRSS+'\\n'))`;

const args = await yargs(process.argv.slice(2))
  .option('runs', { type: 'number', default: 2000 })
  .option('lines', { type: 'number', default: 1_000_000, describe: 'log lines in all' })
  .option('repeat', { type: 'number', default: 3 })
  .option('batch-size', { type: 'number', default: DEFAULTS.batchSize })
  .option('concurrency', { type: 'number', default: DEFAULTS.concurrency })
  .option('compare-documents', { type: 'boolean', default: false, describe: 'dump and compare A with B and with D byte for byte (small sizes)' })
  .option('phases', { type: 'string', default: 'ABCD', describe: 'which of A B C D to run (C needs A), e.g. A alone for peak RSS at another size' })
  .option('out', { type: 'string', default: path.join(repoRoot, '.bench/bench-results.json') })
  .strict()
  .parseAsync();

await mkdir(path.dirname(args.out), { recursive: true });

const phases = new Set(args.phases.toUpperCase().split(''));
if ([...phases].some((phase) => !'ABCD'.includes(phase)) || (phases.has('C') && !phases.has('A'))) {
  throw new Error(`--phases takes letters of ABCD, and C needs A: got "${args.phases}"`);
}

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

interface CliRun {
  ms: number;
  code: number | null;
  maxRssMb: number;
  report?: { totals: Record<string, number>; files: { skippedUnchanged: number } };
}

/** `logFile`: run at log level info and keep its stderr log there (to see where a run's time went). */
function runCli(uri: string, db: string, source: string, logFile?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    execFile(
      process.execPath,
      ['--import', rssProbe, cli, 'import', '--source', source, '--uri', uri, '--db', db, '--json', logFile ? '--log-level=info' : '--quiet',
        '--batch-size', String(args.batchSize), '--concurrency', String(args.concurrency)],
      { maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (logFile) void writeFile(logFile, stderr);
        const ms = performance.now() - started;
        const rss = /BENCH_MAXRSS_KB (\d+)/.exec(stderr);
        let report: CliRun['report'];
        try {
          report = JSON.parse(stdout) as CliRun['report'];
        } catch {
          report = undefined;
        }
        resolve({ ms, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, maxRssMb: rss ? Number(rss[1]) / 1024 : Number.NaN, ...(report ? { report } : {}) });
      },
    );
  });
}

/** Starts the CLI and SIGKILLs it once the logs collection holds `fraction` of the expected lines. */
async function killAt(uri: string, dbName: string, source: string, db: Db, expectedLogs: number, fraction: number): Promise<number> {
  const child = spawn(process.execPath, [cli, 'import', '--source', source, '--uri', uri, '--db', dbName, '--quiet',
    '--batch-size', String(args.batchSize), '--concurrency', String(args.concurrency)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let count = 0;
  for (;;) {
    // collStats answers from metadata; a count query would read every document on FerretDB.
    count = await db
      .command({ collStats: DEFAULT_COLLECTION_NAMES.logs })
      .then((stats) => Number(stats.count ?? 0))
      .catch(() => 0);
    if (count >= expectedLogs * fraction || child.exitCode !== null) break;
    // collStats costs the server a count of the collection (FerretDB: SQLite counts rows), and
    // polling it 20 times a second doubled the killed run's time: poll seldom until close.
    await new Promise((resolve) => setTimeout(resolve, count < expectedLogs * fraction * 0.9 ? 1000 : 100));
  }
  child.kill('SIGKILL');
  await exited;
  return count;
}

/** Normalizes the tree once through the tool's own read path and stores the batches as BSON. */
async function prepareRawBatches(source: string, file: string): Promise<number> {
  const inventory = await findSourceFiles(source, DEFAULT_SOURCE_GLOBS);
  const out = createWriteStream(file);
  let documents = 0;
  await readSourceRecords(
    inventory,
    { source, globs: DEFAULT_SOURCE_GLOBS, enumStyle: 'camel', batchSize: args.batchSize, batchBytes: DEFAULTS.batchBytes, maxFileBytes: DEFAULTS.maxFileBytes, maxLineBytes: DEFAULTS.maxLineBytes },
    new ImportTally(),
    {
      accept: async (role, batch) => {
        documents += batch.length;
        const bytes = BSON.serialize({ role, docs: batch.map((record) => record.doc) });
        if (!out.write(bytes)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      },
    },
  );
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return documents;
}

/** Streams the stored batches back, one BSON document each (the first 4 bytes give its length). */
async function* storedBatches(file: string): AsyncGenerator<{ role: CollectionRole; docs: Document[] }> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32LE(0);
      if (pending.length < size) break;
      yield BSON.deserialize(pending.subarray(0, size), { useBigInt64: true }) as { role: CollectionRole; docs: Document[] };
      pending = pending.subarray(size);
    }
  }
}

/** B: the raw driver, same schema, same batch size and concurrency, no reading or normalizing. */
async function rawInsert(db: Db, file: string): Promise<number> {
  await ensureSchema(db, DEFAULT_COLLECTION_NAMES, {}, () => undefined, schemaServer(await detectServerProfile(db, [])));
  const limit = pLimit(args.concurrency);
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  for await (const batch of storedBatches(file)) {
    while (inFlight.size >= args.concurrency) await Promise.race(inFlight);
    const task = limit(async () => {
      await db.collection(DEFAULT_COLLECTION_NAMES[batch.role]).insertMany(batch.docs, { ordered: false });
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  }
  await Promise.all(inFlight);
  return performance.now() - started;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

const benchStarted = performance.now();
const server = await startTestServer({ log });
const client = new MongoClient(server.uri, { useBigInt64: true });
await client.connect();
const linesPerRun = Math.max(1, Math.round(args.lines / args.runs));
log(`generating ${args.runs} runs x ${linesPerRun} log lines`);
const tree = await makeSyntheticTree({ runs: args.runs, linesPerRun }, 'backfill-bench-');
const expectedDocs = COLLECTION_ROLES.reduce((sum, role) => sum + tree.expected[role], 0);
const scratch = path.join(tmpdir(), `backfill-bench-batches-${process.pid}.bson`);
const figures = { importMs: [] as number[], rawMs: [] as number[], rerunMs: [] as number[], resumeMs: [] as number[], peakRssMb: [] as number[], rerunRssMb: [] as number[], resumeRssMb: [] as number[] };
let documentsMatch: boolean | undefined;
let resumeMatches: boolean | undefined;
let exitCode = 0;
try {
  if (phases.has('B')) {
    const preparing = performance.now();
    const prepared = await prepareRawBatches(tree.root, scratch);
    if (prepared !== expectedDocs) throw new Error(`normalized ${prepared} documents, expected ${expectedDocs}`);
    log(`normalized the tree once for B in ${((performance.now() - preparing) / 1000).toFixed(1)} s`);
  }
  for (let rep = 1; rep <= args.repeat; rep++) {
    const tag = `${Date.now().toString(36)}_${rep}`;
    const dbA = `bench_a_${tag}`;
    const dbB = `bench_b_${tag}`;
    const dbD = `bench_d_${tag}`;

    if (phases.has('A')) {
      const a = await runCli(server.uri, dbA, tree.root);
      if (a.code !== 0 || a.report?.totals.inserted !== expectedDocs) throw new Error(`A: exit ${a.code}, inserted ${a.report?.totals.inserted}`);
      figures.importMs.push(a.ms);
      figures.peakRssMb.push(a.maxRssMb);
      log(`rep ${rep} A import: ${(a.ms / 1000).toFixed(2)} s, peak RSS ${a.maxRssMb.toFixed(0)} MB`);
    }

    if (phases.has('B')) {
      const rawMs = await rawInsert(client.db(dbB), scratch);
      figures.rawMs.push(rawMs);
      log(`rep ${rep} B raw insertMany: ${(rawMs / 1000).toFixed(2)} s`);
      if (args.compareDocuments && rep === 1 && phases.has('A')) {
        documentsMatch = sameBytes(await dumpDatabase(client.db(dbA)), await dumpDatabase(client.db(dbB)));
        log(`A and B documents byte-identical: ${documentsMatch}`);
      }
    }

    if (phases.has('C')) {
      const c = await runCli(server.uri, dbA, tree.root);
      if (c.code !== 0 || (c.report?.totals.inserted ?? 1) + (c.report?.totals.updated ?? 1) !== 0) throw new Error(`C: exit ${c.code}, wrote documents on a re-run`);
      figures.rerunMs.push(c.ms);
      figures.rerunRssMb.push(c.maxRssMb);
      log(`rep ${rep} C re-run: ${(c.ms / 1000).toFixed(2)} s (${c.report?.files.skippedUnchanged} files skipped)`);
    }

    if (phases.has('D')) {
      const killing = performance.now();
      const killedAt = await killAt(server.uri, dbD, tree.root, client.db(dbD), tree.expected.logs, 0.5);
      log(`rep ${rep} D: import killed after ${((performance.now() - killing) / 1000).toFixed(1)} s`);
      const d = await runCli(server.uri, dbD, tree.root, path.join(path.dirname(args.out), `resume-rep${rep}.log`));
      if (d.code !== 0) throw new Error(`D: exit ${d.code}`);
      figures.resumeMs.push(d.ms);
      figures.resumeRssMb.push(d.maxRssMb);
      log(`rep ${rep} D resume after kill at ${killedAt} log entries: ${(d.ms / 1000).toFixed(2)} s (${d.report?.totals.unchanged} entries met again)`);
      // collStats counts from metadata; countDocuments would scan every collection on FerretDB.
      const counts = await Promise.all(
        COLLECTION_ROLES.map(async (role) => Number((await client.db(dbD).command({ collStats: DEFAULT_COLLECTION_NAMES[role] })).count)),
      );
      if (counts.reduce((sum, n) => sum + n, 0) !== expectedDocs) throw new Error(`D: ${counts.join('+')} documents after resume, expected ${expectedDocs}`);
      if (args.compareDocuments && rep === 1 && phases.has('A')) {
        resumeMatches = sameBytes(await dumpDatabase(client.db(dbA)), await dumpDatabase(client.db(dbD)));
        log(`A and D documents byte-identical: ${resumeMatches}`);
      }
    }

    const dropping = performance.now();
    for (const name of [dbA, dbB, dbD]) await client.db(name).dropDatabase();
    log(`rep ${rep} databases dropped in ${((performance.now() - dropping) / 1000).toFixed(1)} s`);
  }
} catch (error) {
  exitCode = 1;
  log(`FAILED: ${(error as Error).message}`);
} finally {
  await client.close();
  await rm(scratch, { force: true });
  await tree.remove();
  if (process.env.MONGODB_URI === undefined) await server.stop();
}

/** Median of a phase that ran, else null (the figure was not measured). */
const medianOf = (values: number[]): number | null => (values.length === 0 ? null : median(values));
const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : round(a / b));
const seconds = (ms: number | null): string => (ms === null ? 'not run' : `${(ms / 1000).toFixed(2)} s`);
const importMs = medianOf(figures.importMs);
const rawMs = medianOf(figures.rawMs);
const rerunMs = medianOf(figures.rerunMs);
const resumeMs = medianOf(figures.resumeMs);
const rssSamples = [...figures.peakRssMb, ...figures.rerunRssMb, ...figures.resumeRssMb];
const result = {
  machine: `${process.platform} ${process.arch}, ${(await import('node:os')).cpus().length} cores, node ${process.version}`,
  server: server.kind,
  runs: args.runs,
  logLines: tree.expected.logs,
  documents: expectedDocs,
  repeat: args.repeat,
  phases: [...phases].sort().join(''),
  batchSize: args.batchSize,
  concurrency: args.concurrency,
  medianMs: { import: importMs && round(importMs, 0), raw: rawMs && round(rawMs, 0), rerun: rerunMs && round(rerunMs, 0), resume: resumeMs && round(resumeMs, 0) },
  importVsRaw: ratio(importMs, rawMs),
  rerunVsImport: ratio(rerunMs, importMs),
  resumeVsImport: ratio(resumeMs, importMs),
  peakRssMb: rssSamples.length === 0 ? null : round(Math.max(...rssSamples), 1),
  docsPerSecond: importMs === null ? null : round(expectedDocs / (importMs / 1000), 0),
  benchSeconds: round((performance.now() - benchStarted) / 1000, 0),
  ...(documentsMatch === undefined ? {} : { documentsMatch }),
  ...(resumeMatches === undefined ? {} : { resumeMatches }),
  ok: exitCode === 0,
};
if (exitCode === 0) {
  process.stdout.write(
    [
      `A import      ${seconds(importMs)}${result.docsPerSecond === null ? '' : `  (${result.docsPerSecond} docs/s)`}`,
      `B raw insert  ${seconds(rawMs)}`,
      `C re-run      ${seconds(rerunMs)}`,
      `D resume      ${seconds(resumeMs)}`,
      `A/B ${result.importVsRaw} (target <= 1.10)   C/A ${result.rerunVsImport} (<= 0.05)   D/A ${result.resumeVsImport} (<= 0.60)   peak RSS ${result.peakRssMb} MB (<= 256)`,
      `benchmark took ${result.benchSeconds} s`,
    ].join('\n') + '\n',
  );
}
await writeFile(args.out, `${JSON.stringify({ ...result, samples: figures }, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exitCode = exitCode;
