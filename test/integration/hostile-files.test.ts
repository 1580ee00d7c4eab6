/**
 * Issue "Hostile and broken input": every broken file ends as exactly the documented outcome and
 * the scan never crashes. Each test builds its own temporary tree under os.tmpdir().
 */
import { appendFile, chmod, mkdir, open, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_COLLECTION_NAMES } from '../../src/config/collection-names.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import { runPlan } from '../../src/pipeline/run-plan.js';
import type { ImportReport } from '../../src/report/import-report.js';
import { DEFAULT_SOURCE_GLOBS } from '../../src/scan/find-source-files.js';
import { readLogLines, type LogLine } from '../../src/scan/read-log-lines.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';
import {
  artifactOutput,
  hashTree,
  logLine,
  makeSourceTree,
  manifest,
  ndjson,
  runState,
  type SourceTree,
  type TreeSpec,
} from '../helpers/source-tree.js';

const MiB = 1024 * 1024;

function options(source: string, overrides: Partial<ImportOptions> = {}): ImportOptions {
  return {
    source,
    globs: DEFAULT_SOURCE_GLOBS,
    collections: DEFAULT_COLLECTION_NAMES,
    enumStyle: 'camel',
    batchSize: 1000,
    batchBytes: 8 << 20,
    maxFileBytes: 64 << 20,
    maxLineBytes: 16 << 20,
    concurrency: 2,
    overwrite: false,
    ...overrides,
  };
}

const trees: SourceTree[] = [];
async function tree(spec: TreeSpec): Promise<SourceTree> {
  const t = await makeSourceTree(spec, 'backfill-hostile-');
  trees.push(t);
  return t;
}

async function plan(t: SourceTree, overrides: Partial<ImportOptions> = {}): Promise<ImportReport> {
  return runPlan(options(t.root, overrides));
}

function reasonsOf(report: ImportReport, file: string): string[] {
  return report.rejections.filter((r) => r.file === file).map((r) => r.reason);
}

function warningCodes(report: ImportReport): string[] {
  return report.warnings.map((w) => w.code);
}

afterAll(async () => {
  for (const t of trees) {
    // chmod 000 files and folders must not block the cleanup.
    await t.remove();
  }
});

describe('hostile files (plan, no database)', () => {
  it('invalid UTF-8 in a state file rejects it; in one log line rejects only that line', async () => {
    const good = Buffer.from(JSON.stringify(runState({ runId: 'run-1' })));
    const bad = Buffer.concat([good.subarray(0, 20), Buffer.from([0xc3, 0x28, 0xff]), good.subarray(20)]);
    const t = await tree({
      'state/runs/run-1.json': runState({ runId: 'run-1' }),
      'state/runs/bad.json': bad,
      'logs/runs/run-1.ndjson': Buffer.concat([
        Buffer.from(ndjson([logLine({ message: 'one' })])),
        Buffer.from('{"timestamp":"2025-11-06T09:03:05Z","level":"info","eventType":"e","message":"\xff\xfe'),
        Buffer.from([0xff, 0xfe, 0x80]),
        Buffer.from('"}\n'),
        Buffer.from(ndjson([logLine({ message: 'three' })])),
      ]),
    });
    const report = await plan(t);
    expect(reasonsOf(report, 'state/runs/bad.json')).toEqual(['invalid-utf8']);
    const logRejections = report.rejections.filter((r) => r.file === 'logs/runs/run-1.ndjson');
    expect(logRejections.map((r) => [r.reason, r.line])).toEqual([['invalid-utf8', 2]]);
    expect(report.collections.logs.inserted).toBe(2);
    expect(report.collections.runs.inserted).toBe(1);
  });

  it('a NUL byte in a state file is invalid JSON, inside or outside a string', async () => {
    const text = JSON.stringify(runState({ runId: 'run-nul', planHash: 'sha256:00' }));
    const t = await tree({
      'state/runs/in-string.json': text.replace('sha256:00', 'sha256:\u000000'),
      'state/runs/outside.json': `\u0000${text}`,
    });
    const report = await plan(t);
    expect(reasonsOf(report, 'state/runs/in-string.json')).toEqual(['invalid-json']);
    expect(reasonsOf(report, 'state/runs/outside.json')).toEqual(['invalid-json']);
    expect(report.collections.runs.inserted).toBe(0);
  });

  it('a zero-byte state file is empty-file; a zero-byte log is a warning, not a rejection', async () => {
    const t = await tree({
      'state/runs/run-1.json': runState({ runId: 'run-1' }),
      'state/runs/empty.json': '',
      'logs/runs/run-1.ndjson': '',
    });
    const report = await plan(t);
    expect(reasonsOf(report, 'state/runs/empty.json')).toEqual(['empty-file']);
    expect(reasonsOf(report, 'logs/runs/run-1.ndjson')).toEqual([]);
    expect(warningCodes(report)).toContain('empty-log-file');
    expect(report.collections.runs.inserted).toBe(1);
  });

  it('a directory named like a state file and a broken link are unreadable; a link loop does not trap the scan', async () => {
    const t = await tree({ 'state/runs/run-1.json': runState({ runId: 'run-1' }) });
    await mkdir(t.path('state/runs/x.json'));
    await symlink(t.path('state/runs/does-not-exist.json'), t.path('state/runs/y.json'));
    await symlink('.', path.join(t.root, 'a'));
    const report = await plan(t);
    expect(reasonsOf(report, 'state/runs/x.json')).toEqual(['unreadable']);
    expect(reasonsOf(report, 'state/runs/y.json')).toEqual(['unreadable']);
    expect(report.collections.runs.inserted).toBe(1);
    expect(report.complete).toBe(true);
  });

  it('an unreadable (chmod 000) state file is unreadable, or simply read when running as root', async () => {
    const t = await tree({
      'state/runs/run-1.json': runState({ runId: 'run-1' }),
      'state/runs/locked.json': runState({ runId: 'locked' }),
    });
    await chmod(t.path('state/runs/locked.json'), 0o000);
    try {
      const report = await plan(t);
      const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
      if (isRoot) {
        // root (CAP_DAC_OVERRIDE) reads through mode 000: the permission bits cannot block it, so the
        // file is imported like any other. The non-root branch is what the README documents.
        expect(reasonsOf(report, 'state/runs/locked.json')).toEqual([]);
        expect(report.collections.runs.inserted).toBe(2);
      } else {
        expect(reasonsOf(report, 'state/runs/locked.json')).toEqual(['unreadable']);
        expect(report.collections.runs.inserted).toBe(1);
      }
    } finally {
      await chmod(t.path('state/runs/locked.json'), 0o644);
    }
  });

  it('a single 100 MB log line is rejected line-too-long without holding it; its neighbours are imported', async () => {
    const t = await tree({ 'state/runs/run-1.json': runState({ runId: 'run-1' }) });
    const logPath = t.path('logs/runs/run-1.ndjson');
    await mkdir(path.dirname(logPath), { recursive: true });
    const handle = await open(logPath, 'w');
    try {
      await handle.write(ndjson([logLine({ message: 'before' })]));
      const chunk = Buffer.alloc(MiB, 0x61);
      await handle.write('{"timestamp":"2025-11-06T09:03:05Z","level":"info","eventType":"e","message":"');
      for (let i = 0; i < 100; i++) await handle.write(chunk);
      await handle.write('"}\n');
      await handle.write(ndjson([logLine({ message: 'after' })]));
    } finally {
      await handle.close();
    }
    let peak = process.memoryUsage().rss;
    const baseline = peak;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    let report: ImportReport;
    try {
      report = await plan(t);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(`100 MB log line: rss baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`);
    const rejections = report.rejections.filter((r) => r.file === 'logs/runs/run-1.ndjson');
    expect(rejections.map((r) => [r.reason, r.line])).toEqual([['line-too-long', 2]]);
    expect(report.collections.logs.inserted).toBe(2);
    expect(peak).toBeLessThan(1.5 * 1024 * MiB);
  });

  it('a state file over maxFileBytes is rejected file-too-large; a sparse 600 MB file is never read', async () => {
    const t = await tree({ 'state/runs/run-1.json': runState({ runId: 'run-1' }) });
    const big = JSON.stringify(runState({ runId: 'big', planHash: 'x'.repeat(2 * MiB) }));
    await writeFile(t.path('state/runs/big.json'), big);
    const small = await plan(t, { maxFileBytes: MiB });
    expect(reasonsOf(small, 'state/runs/big.json')).toEqual(['file-too-large']);
    expect(small.collections.runs.inserted).toBe(1);

    await writeFile(t.path('state/runs/sparse.json'), '');
    await truncate(t.path('state/runs/sparse.json'), 600 * MiB);
    expect((await stat(t.path('state/runs/sparse.json'))).size).toBe(600 * MiB);
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const report = await plan(t); // default 64 MiB limit
    const elapsed = Date.now() - started;
    const after = process.memoryUsage().rss;
    console.log(`sparse 600 MB state file: rss before ${(before / MiB).toFixed(0)} MiB, after ${(after / MiB).toFixed(0)} MiB, ${elapsed} ms`);
    const rejected = report.rejections.filter((r) => r.file === 'state/runs/sparse.json');
    expect(rejected.map((r) => r.reason)).toEqual(['file-too-large']);
    expect(rejected[0]?.message).toContain(String(600 * MiB));
    // Reading 600 MB would have grown the heap by about that much.
    expect(after - before).toBeLessThan(300 * MiB);
  });

  it('JSON nested 100,000 levels deep is too-deep, in plan and in log metadata', async () => {
    const depth = 100_000;
    const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const runText = JSON.stringify(runState({ runId: 'deep', plan: { placeholder: true } })).replace(
      '{"placeholder":true}',
      deep,
    );
    const logText = JSON.stringify(logLine({ metadata: { placeholder: true } })).replace('{"placeholder":true}', deep);
    const t = await tree({
      'state/runs/deep.json': runText,
      'state/runs/run-1.json': runState({ runId: 'run-1' }),
      'logs/runs/run-1.ndjson': `${ndjson([logLine({ message: 'ok' })])}${logText}\n`,
    });
    const report = await plan(t);
    expect(reasonsOf(report, 'state/runs/deep.json')).toEqual(['too-deep']);
    expect(report.rejections.filter((r) => r.file === 'logs/runs/run-1.ndjson').map((r) => [r.reason, r.line])).toEqual([
      ['too-deep', 2],
    ]);
    expect(report.collections.logs.inserted).toBe(1);
    expect(report.collections.runs.inserted).toBe(1);
  });

  it('dates out of range are invalid-date', async () => {
    const t = await tree({
      'state/runs/y0.json': runState({ runId: 'y0', requestedAt: '0000-01-01T00:00:00Z' }),
      'state/runs/y10k.json': runState({ runId: 'y10k', updatedAt: '+10000-01-01T00:00:00Z' }),
      'state/runs/m13.json': runState({ runId: 'm13', createdAt: '2025-13-01T00:00:00Z' }),
      'state/runs/ok.json': runState({ runId: 'ok', requestedAt: '0001-01-01T00:00:00Z', updatedAt: '9999-12-31T23:59:59.9999999Z' }),
    });
    const report = await plan(t);
    for (const name of ['y0', 'y10k', 'm13']) expect(reasonsOf(report, `state/runs/${name}.json`)).toEqual(['invalid-date']);
    expect(reasonsOf(report, 'state/runs/ok.json')).toEqual([]);
    expect(report.collections.runs.inserted).toBe(1);
  });

  it('numbers that do not fit, bare NaN/Infinity and "NaN" strings', async () => {
    const base = JSON.stringify(runState({ runId: 'n', failurePolicy: { maxAttempts: 2, backoffSeconds: 30, continueOnError: false } }));
    const t = await tree({
      'state/runs/run-1.json': runState({ runId: 'run-1' }),
      'state/runs/huge.json': base.replace('"maxAttempts":2', '"maxAttempts":1e400'),
      'state/runs/nan-bare.json': base.replace('"maxAttempts":2', '"maxAttempts":NaN'),
      'state/runs/inf-bare.json': base.replace('"backoffSeconds":30', '"backoffSeconds":Infinity'),
      'state/runs/nan-string.json': base.replace('"maxAttempts":2', '"maxAttempts":"NaN"'),
      'state/runs/inf-string.json': base.replace('"backoffSeconds":30', '"backoffSeconds":"Infinity"'),
      'logs/runs/run-1.ndjson': [
        JSON.stringify(logLine({ message: 'ok' })),
        JSON.stringify(logLine({ message: 'big' })).replace('{', '{"sequence":9007199254740993,'),
        JSON.stringify(logLine({ message: 'nan' })).replace('{', '{"sequence":NaN,'),
        JSON.stringify(logLine({ message: 'nan-string' })).replace('{', '{"sequence":"NaN",'),
        '',
      ].join('\n'),
    });
    const report = await plan(t);
    expect(reasonsOf(report, 'state/runs/huge.json')).toEqual(['invalid-field']);
    expect(reasonsOf(report, 'state/runs/nan-bare.json')).toEqual(['invalid-json']);
    expect(reasonsOf(report, 'state/runs/inf-bare.json')).toEqual(['invalid-json']);
    expect(reasonsOf(report, 'state/runs/nan-string.json')).toEqual(['invalid-field']);
    expect(reasonsOf(report, 'state/runs/inf-string.json')).toEqual(['invalid-field']);
    expect(report.rejections.filter((r) => r.file === 'logs/runs/run-1.ndjson').map((r) => [r.line, r.reason])).toEqual([
      [2, 'invalid-field'],
      [3, 'invalid-json'],
      [4, 'invalid-field'],
    ]);
    expect(report.collections.logs.inserted).toBe(1);
    expect(report.collections.runs.inserted).toBe(1);
  });

  it('a log that grows while read: readLogLines stops at endOffset', async () => {
    const t = await tree({});
    const logPath = path.join(t.root, 'grow.ndjson');
    const line = (n: number): string => `${JSON.stringify(logLine({ message: `m${n}`.padEnd(200, '.') }))}\n`;
    let initial = '';
    for (let n = 1; n <= 200; n++) initial += line(n);
    await writeFile(logPath, initial);
    const endOffset = (await stat(logPath)).size;
    const seen: LogLine[] = [];
    let appended = 0;
    for await (const batch of readLogLines(logPath, { endOffset, maxLineBytes: MiB, chunkBytes: 4096 })) {
      seen.push(...batch);
      // Append whole lines and a torn half line after each chunk.
      await appendFile(logPath, `${line(1000 + appended)}{"half":`);
      appended += 1;
    }
    expect(appended).toBeGreaterThan(1);
    expect((await stat(logPath)).size).toBeGreaterThan(endOffset);
    expect(seen).toHaveLength(200);
    expect(seen.every((l) => l.problem === undefined && l.terminated)).toBe(true);
    expect(seen.at(-1)?.endOffset).toBe(endOffset);
    expect(seen.map((l) => JSON.parse(l.text ?? '').message.replace(/\.+$/, ''))).toEqual(
      Array.from({ length: 200 }, (_, i) => `m${i + 1}`),
    );
  });
});

describe('hostile files (import into the real server)', () => {
  let t: TestDb;
  const logger = pino({ level: 'silent' });
  beforeAll(async () => {
    t = await openTestDb('hostile', { useBigInt64: true });
  });
  afterAll(async () => {
    await t?.drop();
  });

  async function importInto(source: SourceTree, db = t): Promise<ImportReport> {
    return runImport(options(source.root), { db: db.db, serverLabel: 'test', logger });
  }

  it('keys $x, a.b and the empty key in plan and metadata are stored escaped and read back', async () => {
    const keys = { $x: 1, 'a.b': 2, '': 3 };
    const source = await tree({
      'state/runs/keys.json': runState({ runId: 'keys', plan: { ...keys, nested: { ...keys } } }),
      'logs/runs/keys.ndjson': ndjson([logLine({ metadata: { $x: 'one', 'a.b': 'two', '': 'three' } })]),
    });
    const db = await openTestDb('hostile_keys', { useBigInt64: true });
    try {
      const report = await importInto(source, db);
      expect(report.rejections).toEqual([]);
      expect(warningCodes(report)).toContain('key-escaped');
      const run = await db.db.collection('pack_runs').findOne({ _id: 'keys' as never });
      const expected = { '%24x': 1, 'a%2Eb': 2, '': 3 };
      expect(run?.plan).toEqual({ ...expected, nested: expected });
      const log = await db.db.collection('pack_run_logs').findOne({ runId: 'keys' });
      expect(log?.metadata).toEqual({ '%24x': 'one', 'a%2Eb': 'two', '': 'three' });
    } finally {
      await db.drop();
    }
  });

  it('duplicate sequence values in one log: first wins, a different second is a conflict, an identical one unchanged', async () => {
    const first = logLine({ sequence: 7, message: 'first' });
    const source = await tree({
      'state/runs/dup-seq.json': runState({ runId: 'dup-seq' }),
      'logs/runs/dup-seq.ndjson': ndjson([
        first,
        logLine({ sequence: 7, message: 'second, different' }),
        first,
        logLine({ sequence: 8, message: 'other' }),
      ]),
    });
    const db = await openTestDb('hostile_seq', { useBigInt64: true });
    try {
      const report = await importInto(source, db);
      expect(report.collections.logs).toMatchObject({ inserted: 2, conflict: 1, unchanged: 1, rejected: 0 });
      const docs = await db.db.collection('pack_run_logs').find({ runId: 'dup-seq' }).sort({ sequence: 1 }).toArray();
      expect(docs.map((d) => [d.sequence, d.message])).toEqual([
        [7n, 'first'],
        [8n, 'other'],
      ]);
    } finally {
      await db.drop();
    }
  });

  it('duplicate artifact names in one manifest: one document, the first output', async () => {
    const source = await tree({
      'state/runs/art.json': runState({ runId: 'art' }),
      'artifacts/art/artifact-manifest.json': manifest({
        runId: 'art',
        outputs: [
          artifactOutput({ name: 'report', storedPath: 'first' }),
          artifactOutput({ name: 'report', storedPath: 'second' }),
          artifactOutput({ name: 'report', storedPath: 'first' }),
        ],
      }),
    });
    const db = await openTestDb('hostile_art', { useBigInt64: true });
    try {
      const report = await importInto(source, db);
      const docs = await db.db.collection('pack_artifacts').find({ runId: 'art' }).toArray();
      expect(docs).toHaveLength(1);
      expect(docs[0]?.storedPath).toBe('first');
      expect(report.collections.artifacts).toMatchObject({ inserted: 1, conflict: 1, unchanged: 1, rejected: 0 });
    } finally {
      await db.drop();
    }
  });

  it('two state files claiming one runId: the newer updatedAt wins, with a duplicate-run-id warning', async () => {
    const source = await tree({
      'state/runs/a-newer.json': runState({ runId: 'twin', planHash: 'newer', updatedAt: '2025-11-07T00:00:00Z' }),
      'state/runs/b-older.json': runState({ runId: 'twin', planHash: 'older', updatedAt: '2025-11-06T00:00:00Z' }),
      'state/runs/c-other.json': runState({ runId: 'twin2', planHash: 'older', updatedAt: '2025-11-06T00:00:00Z' }),
      'state/runs/d-other-newer.json': runState({ runId: 'twin2', planHash: 'newer', updatedAt: '2025-11-07T00:00:00Z' }),
    });
    const db = await openTestDb('hostile_twin', { useBigInt64: true });
    try {
      const report = await importInto(source, db);
      expect(warningCodes(report)).toContain('duplicate-run-id');
      const runs = await db.db.collection('pack_runs').find({}).sort({ _id: 1 }).toArray();
      expect(runs.map((r) => [r._id, r.planHash])).toEqual([
        ['twin', 'newer'],
        ['twin2', 'newer'],
      ]);
    } finally {
      await db.drop();
    }
  });

  it('runIds with /, .., control characters and 10 KB length keep exactly that _id; logs match by sanitized name', async () => {
    const ids = ['team/a', 'x/../../etc/passwd', 'ctl\u0001\u001f\tend', `long-${'x'.repeat(10 * 1024)}`];
    const stems = ['team_a', 'x_.._.._etc_passwd', 'ctl___end', undefined];
    const spec: Record<string, string> = {};
    ids.forEach((id, i) => {
      spec[`state/runs/odd-${i}.json`] = JSON.stringify(runState({ runId: id }));
      const stem = stems[i];
      if (stem) spec[`logs/runs/${stem}.ndjson`] = ndjson([logLine({ message: `log of ${i}` })]);
    });
    const source = await tree(spec);
    const db = await openTestDb('hostile_ids', { useBigInt64: true });
    try {
      const report = await importInto(source, db);
      expect(report.rejections).toEqual([]);
      expect(report.orphanRunIds).toEqual([]);
      const runIds = (await db.db.collection('pack_runs').find({}).toArray()).map((r) => r._id as unknown as string);
      expect(runIds.sort()).toEqual([...ids].sort());
      const logs = await db.db.collection('pack_run_logs').find({}).toArray();
      expect(logs.map((l) => [l.runId, l.message]).sort()).toEqual(
        [0, 1, 2].map((i) => [ids[i], `log of ${i}`]).sort(),
      );
    } finally {
      await db.drop();
    }
  });

  it('the source tree is byte-identical after an import of a hostile tree', async () => {
    const source = await tree({
      'state/runs/run-1.json': runState({ runId: 'run-1' }),
      'state/runs/bad.json': '{"runId": ',
      'state/runs/empty.json': '',
      'logs/runs/run-1.ndjson': `${ndjson([logLine(), logLine({ sequence: 1 })])}{"torn":`,
      'logs/runs/orphan.ndjson': ndjson([logLine()]),
      'state/approvals/run-1.json': '[{"approvalId":"x"}]',
      'artifacts/run-1/artifact-manifest.json': manifest({ runId: 'run-1' }),
      'queue/ignored.tmp': Buffer.from([0, 1, 2, 255]),
    });
    await symlink('.', path.join(source.root, 'loop'));
    await symlink(source.path('nowhere'), source.path('state/runs/broken.json'));
    const before = await hashTree(source.root);
    const beforeStats = await Promise.all(before.map(async ([p]) => [p, (await stat(path.join(source.root, p)).catch(() => undefined))?.mtimeMs]));
    const report = await importInto(source);
    expect(report.totals.inserted).toBeGreaterThan(0);
    expect(report.totals.rejected).toBeGreaterThan(0);
    expect(await hashTree(source.root)).toEqual(before);
    const afterStats = await Promise.all(before.map(async ([p]) => [p, (await stat(path.join(source.root, p)).catch(() => undefined))?.mtimeMs]));
    expect(afterStats).toEqual(beforeStats);
  });
});
