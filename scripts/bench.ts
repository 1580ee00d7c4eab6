/**
 * `npm run bench`: how close the importer gets to what the server can take, in one run, on one
 * server and one synthetic tree. Dev script, never runtime code.
 *
 *   A  the tool's first import into an empty database (the built CLI as a child process); its own
 *      CPU time (user + system, all threads) is measured too
 *   B  the same already-normalized documents written with the raw driver (insertMany, unordered,
 *      same batch size and concurrency) into an empty database: the physical limit here
 *   C  the tool's re-run over the unchanged tree
 *   D  the tool importing the tree again after being killed (SIGKILL) at 50 %; the documents are
 *      then counted exactly (countDocuments)
 *   N  the naive importer (scripts/naive-import.ts: parse, convert dates, insertMany) on the same
 *      tree: the client CPU any importer of this data spends; cpuVsNaive = A's CPU / N's CPU
 *   V  `verify` of A's database (the built CLI, --json): verifyVsImport = V / A, and its peak RSS;
 *      then every document of A's four collections read with the raw driver (one cursor each,
 *      the batch size verify reads with, nothing compared): the server's read rate, which bounds
 *      verify (verifyVsRawRead = V / that read)
 *   S  many small files: a second tree of --small-runs runs x 4 files (a few log lines each),
 *      first import, then the unchanged re-run (smallFilesRerunVsImport), and `status` on it
 *   P  `plan` records/s, with 0 (main thread), 1 and 2 worker threads when the CLI takes --workers
 *      (planScaling = 2 / 1), else single-threaded (planScaling null)
 *
 * Each is repeated (--repeat) and the medians are reported. The last line of stdout is one JSON
 * object (importVsRaw, rerunVsImport, resumeVsImport, verifyVsImport, cpuVsNaive,
 * smallFilesRerunVsImport, planScaling, peakRssMb, docsPerSecond, server, machine, load averages,
 * medians per phase, ...); the same figures and every sample go to --out (default
 * .bench/bench-results.json).
 *
 * Options: --server sqlite|postgresql (FerretDB's backend; MONGODB_URI still wins)
 *          --runs 2000 --lines 1000000 --repeat 1 --batch-size 1000 --concurrency 4
 *          --small-runs 12500 --small-lines 4
 *          --quick (400 runs, 200,000 lines, 2,500 small runs, repeat 1: a few minutes)
 *          --compare-documents (dump A, B and D and compare byte for byte; for small sizes)
 *          --phases ABCDNVSP (a subset, e.g. `--lines 4000000 --phases A` for peak RSS at 4x size)
 * The D run's own log is kept in .bench/resume-repN.log (how many entries it met again, and
 * how long comparing them took).
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
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
import { describeServer, detectServerProfile, schemaServer } from '../src/server/server-profile.js';
import { ensureSchema } from '../src/write/ensure-schema.js';
import { dumpDatabase, sameBytes } from '../test/helpers/dump.js';
import { makeSyntheticTree, type SyntheticTree } from '../test/helpers/synthetic-tree.js';
import { FERRETDB_BACKENDS, startTestServer, type FerretDbBackend } from '../test/helpers/test-server.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const naiveImporter = path.join(repoRoot, 'dist/scripts/naive-import.js');
// Preloaded into each CLI child: at exit it reports its peak RSS (kilobytes, from getrusage) and
// its CPU time (user + system microseconds, all threads).
const probe = `data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('BENCH_MAXRSS_KB '+process.resourceUsage().maxRSS+' BENCH_CPU_US '+(u.user+u.system)+'\\n')})`;

const PHASES = 'ABCDNVSP';
const args = await yargs(process.argv.slice(2))
  .option('server', { type: 'string', choices: FERRETDB_BACKENDS as string[], default: 'sqlite', describe: "FerretDB's backend for the test server (MONGODB_URI still wins)" })
  .option('quick', { type: 'boolean', default: false, describe: 'a few minutes: 400 runs, 200,000 lines, 2,500 small runs, repeat 1' })
  .option('runs', { type: 'number', describe: 'runs in the tree [default: 2000; --quick 400]' })
  .option('lines', { type: 'number', describe: 'log lines in all [default: 1,000,000; --quick 200,000]' })
  .option('repeat', { type: 'number', describe: 'repetitions of each phase [default: 1 (about 11 minutes on FerretDB/SQLite, 2 cores); 2 or more for medians]' })
  .option('small-runs', { type: 'number', describe: 'S: runs of the many-small-files tree, 4 files each [default: 12,500; --quick 2,500]' })
  .option('small-lines', { type: 'number', default: 4, describe: 'S: log lines per run' })
  .option('batch-size', { type: 'number', default: DEFAULTS.batchSize })
  .option('concurrency', { type: 'number', default: DEFAULTS.concurrency })
  .option('compare-documents', { type: 'boolean', default: false, describe: 'dump and compare A with B and with D byte for byte (small sizes)' })
  .option('phases', { type: 'string', default: PHASES, describe: `which of ${PHASES} to run (C, N and V need A), e.g. A alone for peak RSS at another size` })
  .option('out', { type: 'string', default: path.join(repoRoot, '.bench/bench-results.json') })
  .strict()
  .parseAsync();

const sizes = {
  runs: args.runs ?? (args.quick ? 400 : 2000),
  lines: args.lines ?? (args.quick ? 200_000 : 1_000_000),
  repeat: args.repeat ?? 1,
  smallRuns: args.smallRuns ?? (args.quick ? 2500 : 12_500),
};

await mkdir(path.dirname(args.out), { recursive: true });

const phases = new Set(args.phases.toUpperCase().split(''));
if ([...phases].some((phase) => !PHASES.includes(phase)) || (['C', 'N', 'V'].some((phase) => phases.has(phase)) && !phases.has('A'))) {
  throw new Error(`--phases takes letters of ${PHASES}, and C, N and V need A: got "${args.phases}"`);
}

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

interface ChildRun {
  ms: number;
  code: number | null;
  maxRssMb: number;
  cpuMs: number;
  stdout: string;
}

interface ImportJson {
  totals: Record<string, number>;
  files: { skippedUnchanged: number };
}

/** Runs a node script as a child (with the probe for the CLI); `logFile` keeps its stderr. */
function runNode(script: string, scriptArgs: string[], logFile?: string): Promise<ChildRun> {
  return new Promise((resolve) => {
    const started = performance.now();
    execFile(process.execPath, ['--import', probe, script, ...scriptArgs], { maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (logFile) void writeFile(logFile, stderr);
      const ms = performance.now() - started;
      const rss = /BENCH_MAXRSS_KB (\d+) BENCH_CPU_US (\d+)/.exec(stderr);
      resolve({
        ms,
        code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
        maxRssMb: rss ? Number(rss[1]) / 1024 : Number.NaN,
        cpuMs: rss ? Number(rss[2]) / 1000 : Number.NaN,
        stdout,
      });
    });
  });
}

const runCli = (cliArgs: string[], logFile?: string): Promise<ChildRun> => runNode(cli, cliArgs, logFile);

function parsed<T>(run: ChildRun): T | undefined {
  try {
    return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as T;
  } catch {
    return undefined;
  }
}

/** The tool's import; `logFile`: run at log level info and keep its stderr log there. */
function importRun(uri: string, db: string, source: string, logFile?: string): Promise<ChildRun> {
  return runCli(['import', '--source', source, '--uri', uri, '--db', db, '--json', logFile ? '--log-level=info' : '--quiet', '--batch-size', String(args.batchSize), '--concurrency', String(args.concurrency)], logFile);
}

/** Starts the CLI and SIGKILLs it once the logs collection holds `fraction` of the expected lines. */
async function killAt(uri: string, dbName: string, source: string, db: Db, expectedLogs: number, fraction: number): Promise<number> {
  const child = spawn(process.execPath, [cli, 'import', '--source', source, '--uri', uri, '--db', dbName, '--quiet',
    '--batch-size', String(args.batchSize), '--concurrency', String(args.concurrency)], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let count = 0;
  for (;;) {
    // Only when to kill, not a correctness check: collStats answers from metadata (an estimate on
    // some servers), where a count query would read every document on FerretDB.
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

/** V's yardstick: every document of the four collections read with the raw driver, one cursor at a time; returns ms. */
async function rawRead(db: Db): Promise<{ ms: number; documents: number }> {
  const started = performance.now();
  let documents = 0;
  for (const role of COLLECTION_ROLES) {
    for await (const _document of db.collection(DEFAULT_COLLECTION_NAMES[role]).find({}, { batchSize: args.batchSize })) documents += 1;
  }
  return { ms: performance.now() - started, documents };
}

/** Exact document counts of the four data collections (correctness checks never use collStats). */
async function countAll(db: Db): Promise<number[]> {
  return Promise.all(COLLECTION_ROLES.map((role) => db.collection(DEFAULT_COLLECTION_NAMES[role]).countDocuments({})));
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};
const round = (value: number, digits = 3): number => Number(value.toFixed(digits));
const loads = (): number[] => loadavg().map((value) => round(value, 2));

const benchStarted = performance.now();
const loadAtStart = loads();
const server = await startTestServer({ log, backend: args.server as FerretDbBackend });
const client = new MongoClient(server.uri, { useBigInt64: true });
await client.connect();
// The server as the tool sees it (its profile); FerretDB shows its backend only once a collection exists.
const probeDb = client.db(`bench_probe_${Date.now().toString(36)}`);
await probeDb.collection('probe').insertOne({ probe: true });
const profile = await detectServerProfile(probeDb, ['probe']);
await probeDb.dropDatabase();
log(`server: ${describeServer(profile)} (${server.description})`);

const linesPerRun = Math.max(1, Math.round(sizes.lines / sizes.runs));
const needsTree = ['A', 'B', 'D', 'P'].some((phase) => phases.has(phase));
log(`generating ${sizes.runs} runs x ${linesPerRun} log lines`);
const tree = needsTree ? await makeSyntheticTree({ runs: sizes.runs, linesPerRun }, 'backfill-bench-') : undefined;
let small: SyntheticTree | undefined;
if (phases.has('S')) {
  const generating = performance.now();
  small = await makeSyntheticTree({ runs: sizes.smallRuns, linesPerRun: args.smallLines }, 'backfill-bench-small-');
  log(`generated the small-files tree (${sizes.smallRuns} runs x 4 files) in ${((performance.now() - generating) / 1000).toFixed(1)} s`);
}
const total = (t: SyntheticTree | undefined): number => (t ? COLLECTION_ROLES.reduce((sum, role) => sum + t.expected[role], 0) : 0);
const expectedDocs = total(tree);
const smallDocs = total(small);
const scratch = path.join(tmpdir(), `backfill-bench-batches-${process.pid}.bson`);
const figures = {
  importMs: [] as number[],
  importCpuMs: [] as number[],
  rawMs: [] as number[],
  rerunMs: [] as number[],
  resumeMs: [] as number[],
  naiveMs: [] as number[],
  naiveCpuMs: [] as number[],
  verifyMs: [] as number[],
  rawReadMs: [] as number[],
  smallImportMs: [] as number[],
  smallRerunMs: [] as number[],
  statusMs: [] as number[],
  planMs: [] as number[],
  plan1Ms: [] as number[],
  plan2Ms: [] as number[],
  peakRssMb: [] as number[],
  rerunRssMb: [] as number[],
  resumeRssMb: [] as number[],
  verifyRssMb: [] as number[],
  smallImportRssMb: [] as number[],
  smallRerunRssMb: [] as number[],
  statusRssMb: [] as number[],
  planRssMb: [] as number[],
};
let documentsMatch: boolean | undefined;
let resumeMatches: boolean | undefined;
let workersOption: boolean | undefined;
let exitCode = 0;
try {
  if (phases.has('B') && tree) {
    const preparing = performance.now();
    const prepared = await prepareRawBatches(tree.root, scratch);
    if (prepared !== expectedDocs) throw new Error(`normalized ${prepared} documents, expected ${expectedDocs}`);
    log(`normalized the tree once for B in ${((performance.now() - preparing) / 1000).toFixed(1)} s`);
  }
  if (phases.has('P')) {
    const help = await runCli(['plan', '--help']);
    workersOption = help.stdout.includes('--workers');
    log(`plan ${workersOption ? 'takes --workers: measured with 0, 1 and 2' : 'has no --workers option: measured single-threaded, planScaling null'}`);
  }
  for (let rep = 1; rep <= sizes.repeat; rep++) {
    const tag = `${Date.now().toString(36)}_${rep}`;
    const dbA = `bench_a_${tag}`;
    const dbB = `bench_b_${tag}`;
    const dbD = `bench_d_${tag}`;
    const dbN = `bench_n_${tag}`;
    const dbS = `bench_s_${tag}`;

    if (phases.has('A') && tree) {
      const a = await importRun(server.uri, dbA, tree.root);
      const report = parsed<ImportJson>(a);
      if (a.code !== 0 || report?.totals.inserted !== expectedDocs) throw new Error(`A: exit ${a.code}, inserted ${report?.totals.inserted}`);
      figures.importMs.push(a.ms);
      figures.importCpuMs.push(a.cpuMs);
      figures.peakRssMb.push(a.maxRssMb);
      log(`rep ${rep} A import: ${(a.ms / 1000).toFixed(2)} s, CPU ${(a.cpuMs / 1000).toFixed(1)} s, peak RSS ${a.maxRssMb.toFixed(0)} MB`);
    }

    if (phases.has('B') && tree) {
      const rawMs = await rawInsert(client.db(dbB), scratch);
      figures.rawMs.push(rawMs);
      log(`rep ${rep} B raw insertMany: ${(rawMs / 1000).toFixed(2)} s`);
      if (args.compareDocuments && rep === 1 && phases.has('A')) {
        documentsMatch = sameBytes(await dumpDatabase(client.db(dbA)), await dumpDatabase(client.db(dbB)));
        log(`A and B documents byte-identical: ${documentsMatch}`);
      }
    }

    if (phases.has('C') && tree) {
      const c = await importRun(server.uri, dbA, tree.root);
      const report = parsed<ImportJson>(c);
      if (c.code !== 0 || (report?.totals.inserted ?? 1) + (report?.totals.updated ?? 1) !== 0) throw new Error(`C: exit ${c.code}, wrote documents on a re-run`);
      figures.rerunMs.push(c.ms);
      figures.rerunRssMb.push(c.maxRssMb);
      log(`rep ${rep} C re-run: ${(c.ms / 1000).toFixed(2)} s (${report?.files.skippedUnchanged} files skipped)`);
    }

    if (phases.has('V') && tree) {
      const v = await runCli(['verify', '--source', tree.root, '--uri', server.uri, '--db', dbA, '--json', '--quiet']);
      const report = parsed<{ passed: boolean; complete: boolean; totals: { expected: number; found: number; extra: number } }>(v);
      if (v.code !== 0 || !report?.passed || report.totals.found !== expectedDocs || report.totals.extra !== 0) {
        throw new Error(`V: exit ${v.code}, passed ${report?.passed}, found ${report?.totals.found} of ${expectedDocs}, extra ${report?.totals.extra}`);
      }
      figures.verifyMs.push(v.ms);
      figures.verifyRssMb.push(v.maxRssMb);
      log(`rep ${rep} V verify: ${(v.ms / 1000).toFixed(2)} s, CPU ${(v.cpuMs / 1000).toFixed(1)} s, peak RSS ${v.maxRssMb.toFixed(0)} MB`);
      const read = await rawRead(client.db(dbA));
      if (read.documents !== expectedDocs) throw new Error(`V: the raw read found ${read.documents} documents of ${expectedDocs}`);
      figures.rawReadMs.push(read.ms);
      log(`rep ${rep} V raw read of every document: ${(read.ms / 1000).toFixed(2)} s`);
    }

    if (phases.has('N') && tree) {
      const n = await runNode(naiveImporter, ['--source', tree.root, '--uri', server.uri, '--db', dbN, '--batch-size', String(args.batchSize), '--concurrency', String(args.concurrency)]);
      const result = parsed<{ documents: number; ms: number; cpuMs: number }>(n);
      if (n.code !== 0 || result?.documents !== expectedDocs) throw new Error(`N: exit ${n.code}, wrote ${result?.documents} documents of ${expectedDocs}`);
      figures.naiveMs.push(n.ms);
      figures.naiveCpuMs.push(result.cpuMs);
      log(`rep ${rep} N naive import: ${(n.ms / 1000).toFixed(2)} s, CPU ${(result.cpuMs / 1000).toFixed(1)} s`);
    }

    if (phases.has('D') && tree) {
      const killing = performance.now();
      const killedAt = await killAt(server.uri, dbD, tree.root, client.db(dbD), tree.expected.logs, 0.5);
      log(`rep ${rep} D: import killed after ${((performance.now() - killing) / 1000).toFixed(1)} s`);
      const d = await importRun(server.uri, dbD, tree.root, path.join(path.dirname(args.out), `resume-rep${rep}.log`));
      if (d.code !== 0) throw new Error(`D: exit ${d.code}`);
      figures.resumeMs.push(d.ms);
      figures.resumeRssMb.push(d.maxRssMb);
      log(`rep ${rep} D resume after kill at ${killedAt} log entries: ${(d.ms / 1000).toFixed(2)} s (${parsed<ImportJson>(d)?.totals.unchanged} entries met again)`);
      const counting = performance.now();
      const counts = await countAll(client.db(dbD));
      if (counts.reduce((sum, n) => sum + n, 0) !== expectedDocs) throw new Error(`D: ${counts.join('+')} documents after resume, expected ${expectedDocs}`);
      log(`rep ${rep} D: ${expectedDocs} documents counted exactly in ${((performance.now() - counting) / 1000).toFixed(1)} s`);
      if (args.compareDocuments && rep === 1 && phases.has('A')) {
        resumeMatches = sameBytes(await dumpDatabase(client.db(dbA)), await dumpDatabase(client.db(dbD)));
        log(`A and D documents byte-identical: ${resumeMatches}`);
      }
    }

    if (phases.has('S') && small) {
      const first = await importRun(server.uri, dbS, small.root);
      if (first.code !== 0 || parsed<ImportJson>(first)?.totals.inserted !== smallDocs) throw new Error(`S: first import exit ${first.code}, inserted ${parsed<ImportJson>(first)?.totals.inserted} of ${smallDocs}`);
      const again = await importRun(server.uri, dbS, small.root);
      const report = parsed<ImportJson>(again);
      if (again.code !== 0 || (report?.totals.inserted ?? 1) + (report?.totals.updated ?? 1) !== 0) throw new Error(`S: exit ${again.code}, wrote documents on a re-run`);
      const status = await runCli(['status', '--uri', server.uri, '--db', dbS, '--json']);
      if (status.code !== 0 || !parsed<object>(status)) throw new Error(`S: status exit ${status.code}`);
      figures.smallImportMs.push(first.ms);
      figures.smallRerunMs.push(again.ms);
      figures.statusMs.push(status.ms);
      figures.smallImportRssMb.push(first.maxRssMb);
      figures.smallRerunRssMb.push(again.maxRssMb);
      figures.statusRssMb.push(status.maxRssMb);
      log(
        `rep ${rep} S small files: import ${(first.ms / 1000).toFixed(2)} s (${first.maxRssMb.toFixed(0)} MB), re-run ${(again.ms / 1000).toFixed(2)} s ` +
          `(${again.maxRssMb.toFixed(0)} MB, ${report?.files.skippedUnchanged} files skipped), status ${(status.ms / 1000).toFixed(2)} s (${status.maxRssMb.toFixed(0)} MB)`,
      );
    }

    if (phases.has('P') && tree) {
      const plans = workersOption ? [['--workers', '0'], ['--workers', '1'], ['--workers', '2']] : [[]];
      for (const extra of plans) {
        const p = await runCli(['plan', '--source', tree.root, '--json', '--quiet', ...extra]);
        const planned = parsed<{ totals: { inserted: number } }>(p);
        if (p.code !== 0 || planned?.totals.inserted !== expectedDocs) throw new Error(`P: plan ${extra.join(' ')} exit ${p.code}, ${planned?.totals.inserted} records of ${expectedDocs}`);
        (extra.length === 0 || extra[1] === '0' ? figures.planMs : extra[1] === '1' ? figures.plan1Ms : figures.plan2Ms).push(p.ms);
        figures.planRssMb.push(p.maxRssMb);
        log(`rep ${rep} P plan ${extra.join(' ') || '(one thread)'}: ${(p.ms / 1000).toFixed(2)} s = ${round(expectedDocs / (p.ms / 1000), 0)} records/s, peak RSS ${p.maxRssMb.toFixed(0)} MB`);
      }
    }

    const dropping = performance.now();
    for (const name of [dbA, dbB, dbD, dbN, dbS]) await client.db(name).dropDatabase();
    log(`rep ${rep} databases dropped in ${((performance.now() - dropping) / 1000).toFixed(1)} s`);
  }
} catch (error) {
  exitCode = 1;
  log(`FAILED: ${(error as Error).message}`);
} finally {
  await client.close();
  await rm(scratch, { force: true });
  await tree?.remove();
  await small?.remove();
  await server.stop();
}

/** Median of a phase that ran, else null (the figure was not measured). */
const medianOf = (values: number[]): number | null => (values.length === 0 ? null : median(values));
const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : round(a / b));
const seconds = (ms: number | null): string => (ms === null ? 'not run' : `${(ms / 1000).toFixed(2)} s`);
const ms0 = (value: number | null): number | null => (value === null ? null : round(value, 0));
const perSecond = (records: number, ms: number | null): number | null => (ms === null ? null : round(records / (ms / 1000), 0));
const peak = (values: number[]): number | null => (values.length === 0 ? null : round(Math.max(...values), 1));
const medians = Object.fromEntries(Object.entries(figures).filter(([name]) => name.endsWith('Ms') && !name.endsWith('RssMb')).map(([name, values]) => [name.replace(/Ms$/, ''), ms0(medianOf(values))])) as Record<string, number | null>;
const importMs = medianOf(figures.importMs);
const planRecordsPerSecond = workersOption
  ? { workers0: perSecond(expectedDocs, medianOf(figures.planMs)), workers1: perSecond(expectedDocs, medianOf(figures.plan1Ms)), workers2: perSecond(expectedDocs, medianOf(figures.plan2Ms)) }
  : { oneThread: perSecond(expectedDocs, medianOf(figures.planMs)) };
const rssByPhase = {
  import: peak(figures.peakRssMb),
  rerun: peak(figures.rerunRssMb),
  resume: peak(figures.resumeRssMb),
  verify: peak(figures.verifyRssMb),
  smallImport: peak(figures.smallImportRssMb),
  smallRerun: peak(figures.smallRerunRssMb),
  status: peak(figures.statusRssMb),
  plan: peak(figures.planRssMb),
};
const importRss = [...figures.peakRssMb, ...figures.rerunRssMb, ...figures.resumeRssMb];
const cpu = os();
const result = {
  machine: cpu,
  server: { kind: profile.kind, backend: profile.backend ?? null, description: describeServer(profile), testServer: server.kind },
  loadAverage: { start: loadAtStart, end: loads() },
  runs: sizes.runs,
  logLines: tree?.expected.logs ?? 0,
  documents: expectedDocs,
  repeat: sizes.repeat,
  phases: [...phases].sort().join(''),
  batchSize: args.batchSize,
  concurrency: args.concurrency,
  medianMs: medians,
  importVsRaw: ratio(importMs, medianOf(figures.rawMs)),
  rerunVsImport: ratio(medianOf(figures.rerunMs), importMs),
  resumeVsImport: ratio(medianOf(figures.resumeMs), importMs),
  verifyVsImport: ratio(medianOf(figures.verifyMs), importMs),
  verifyVsRawRead: ratio(medianOf(figures.verifyMs), medianOf(figures.rawReadMs)),
  cpuVsNaive: ratio(medianOf(figures.importCpuMs), medianOf(figures.naiveCpuMs)),
  cpuMs: { tool: ms0(medianOf(figures.importCpuMs)), naive: ms0(medianOf(figures.naiveCpuMs)) },
  smallFilesRerunVsImport: ratio(medianOf(figures.smallRerunMs), medianOf(figures.smallImportMs)),
  smallFiles: small ? { runs: sizes.smallRuns, files: sizes.smallRuns * 4, documents: smallDocs } : null,
  planScaling: workersOption ? ratio(medianOf(figures.plan1Ms), medianOf(figures.plan2Ms)) : null,
  planRecordsPerSecond: phases.has('P') ? planRecordsPerSecond : null,
  // Peak RSS of the import runs (A, C, D: the README's target); every phase's peak beside it.
  peakRssMb: importRss.length === 0 ? null : round(Math.max(...importRss), 1),
  peakRssMbByPhase: rssByPhase,
  docsPerSecond: perSecond(expectedDocs, importMs),
  benchSeconds: round((performance.now() - benchStarted) / 1000, 0),
  ...(documentsMatch === undefined ? {} : { documentsMatch }),
  ...(resumeMatches === undefined ? {} : { resumeMatches }),
  ok: exitCode === 0,
};
if (exitCode === 0) {
  const line = (label: string, ms: number | null, extra = ''): string => `${label.padEnd(22)}${seconds(ms)}${ms === null ? '' : extra}`;
  process.stdout.write(
    [
      `server: ${result.server.description}; load average ${loadAtStart.join(' ')} at start, ${result.loadAverage.end.join(' ')} at end`,
      line('A import', importMs, `  (${result.docsPerSecond} docs/s, CPU ${seconds(medianOf(figures.importCpuMs))})`),
      line('B raw insert', medianOf(figures.rawMs)),
      line('C re-run', medianOf(figures.rerunMs)),
      line('D resume', medianOf(figures.resumeMs)),
      line('N naive import', medianOf(figures.naiveMs), `  (CPU ${seconds(medianOf(figures.naiveCpuMs))})`),
      line('V verify', medianOf(figures.verifyMs), `  (peak RSS ${rssByPhase.verify} MB)`),
      line('V raw read', medianOf(figures.rawReadMs), `  (the server's read rate: verify/raw read ${result.verifyVsRawRead})`),
      line('S small import', medianOf(figures.smallImportMs), `  (${sizes.smallRuns * 4} files)`),
      line('S small re-run', medianOf(figures.smallRerunMs)),
      line('S status', medianOf(figures.statusMs)),
      `P plan records/s      ${phases.has('P') ? JSON.stringify(planRecordsPerSecond) : 'not run'}`,
      `A/B ${result.importVsRaw} (target <= 1.10)   C/A ${result.rerunVsImport} (<= 0.05)   D/A ${result.resumeVsImport} (<= 0.60)   V/A ${result.verifyVsImport} (<= 1.0)   ` +
        `CPU/naive ${result.cpuVsNaive}   S re-run/import ${result.smallFilesRerunVsImport}   plan 2/1 ${result.planScaling}   peak RSS ${result.peakRssMb} MB (<= 200)`,
      `benchmark took ${result.benchSeconds} s`,
    ].join('\n') + '\n',
  );
}
await writeFile(args.out, `${JSON.stringify({ ...result, samples: figures }, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exitCode = exitCode;

function os(): { platform: string; cores: number; cpu: string; memoryGb: number; node: string } {
  const list = cpus();
  return { platform: `${process.platform} ${process.arch}`, cores: list.length, cpu: list[0]?.model ?? 'unknown', memoryGb: round(totalmem() / 2 ** 30, 1), node: process.version };
}
