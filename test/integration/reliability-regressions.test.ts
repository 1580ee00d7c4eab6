/**
 * Regression tests for the reliability findings of issue 10 that live in the import core: each
 * scenario ended with exit 0 (or a misleading report) while the database was wrong. Real server,
 * real temp trees; every check compares the database with a clean import of the same tree.
 */
import { appendFile, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Document } from 'mongodb';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { importExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import { LedgerStore } from '../../src/ledger/ledger-store.js';
import type { ImportReport } from '../../src/report/import-report.js';
import { dumpDatabase, dumpText } from '../helpers/dump.js';
import { approval, artifactOutput, logLine, makeSourceTree, manifest, ndjson, runState, type SourceTree, type TreeSpec } from '../helpers/source-tree.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LEDGER = 'taskrunner_backfill_ledger';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDb(prefix: string): Promise<TestDb> {
  const t = await openTestDb(prefix, { useBigInt64: true });
  cleanups.push(() => t.drop());
  return t;
}

async function tree(spec: TreeSpec): Promise<SourceTree> {
  const made = await makeSourceTree(spec);
  cleanups.push(() => made.remove());
  return made;
}

function importInto(t: TestDb, source: string, overrides: Partial<ImportOptions> = {}): Promise<ImportReport> {
  const config = resolveConfig({ source }, {}, [], REPO);
  return runImport({ ...config, source, ...overrides }, { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
}

/** The database a clean import of `source` (fresh database, no ledger) ends with. */
async function cleanImportOf(source: string, prefix: string): Promise<string> {
  const clean = await freshDb(prefix);
  await importInto(clean, source, { useLedger: false });
  return dumpText(await dumpDatabase(clean.db));
}

/** Moves a file's mtime forward so the ledger sees it changed although its bytes did not. */
async function touch(file: string, secondsLater = 10): Promise<void> {
  const when = new Date(Date.now() + secondsLater * 1000);
  await utimes(file, when, when);
}

describe('issue 10 regressions: the import core', () => {
  it('finding 1: run "a" with artifact/approval "b#c" and run "a#b" with "c" never share a key', async () => {
    const t = await freshDb('reg_ambiguous_key');
    const source = await tree({
      'state/runs/a.json': runState({ runId: 'a' }),
      'state/approvals/a.json': [approval({ approvalId: 'b#c' })],
      'artifacts/a/artifact-manifest.json': manifest({ runId: 'a', outputs: [artifactOutput({ name: 'b#c' })] }),
    });
    expect(importExitCode(await importInto(t, source.root))).toBe(0);

    await source.write('state/runs/a#b.json', runState({ runId: 'a#b', updatedAt: '2025-11-07T09:00:00Z' }));
    await source.write(
      'state/approvals/a#b.json',
      [approval({ approvalId: 'c', requestedAt: '2025-11-07T09:00:00Z', completedAt: '2025-11-07T09:01:00Z', summary: 'other run' })],
    );
    await source.write(
      'artifacts/a#b/artifact-manifest.json',
      manifest({ runId: 'a#b', uploadedAt: '2025-11-07T10:00:00Z', outputs: [artifactOutput({ name: 'c', notes: 'other run' })] }),
    );
    for (const file of ['state/runs/a.json', 'state/approvals/a.json', 'artifacts/a/artifact-manifest.json']) await touch(source.path(file));

    const second = await importInto(t, source.root);
    expect(second.conflicts).toEqual([]);
    expect(importExitCode(second)).toBe(0);
    expect(await t.db.collection('pack_artifacts').countDocuments({})).toBe(2);
    expect(await t.db.collection('pack_run_approvals').countDocuments({})).toBe(2);
    expect(dumpText(await dumpDatabase(t.db))).toBe(await cleanImportOf(source.root, 'reg_ambiguous_key_clean'));

    // Reading and comparing everything again finds every record unchanged.
    const third = await importInto(t, source.root, { useLedger: false });
    expect(third.totals).toMatchObject({ inserted: 0, updated: 0, conflict: 0, keptNewer: 0 });
  });

  it('finding 1: a NUL inside a runId or name cannot make two records share a derived _id', async () => {
    const t = await freshDb('reg_nul_key');
    const source = await tree({
      'state/runs/x.json': runState({ runId: 'x' }),
      'artifacts/x/artifact-manifest.json': manifest({ runId: 'x', outputs: [artifactOutput({ name: 'y\u0000z' })] }),
      'state/runs/x_y.json': runState({ runId: 'x\u0000y' }),
      'artifacts/x_y/artifact-manifest.json': manifest({ runId: 'x\u0000y', outputs: [artifactOutput({ name: 'z' })] }),
    });
    const report = await importInto(t, source.root);
    expect(report.totals).toMatchObject({ conflict: 0, rejected: 0 });
    const ids = (await t.db.collection('pack_artifacts').find({}).toArray()).map((doc) => String(doc._id));
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('finding 3 (%s): an unterminated last line is not counted as finished; appended lines keep their numbers', async (_name, eol) => {
    const t = await freshDb('reg_unterminated');
    const l1 = JSON.stringify(logLine({ message: 'one' }));
    const l2 = JSON.stringify(logLine({ message: 'two' }));
    const l3 = JSON.stringify(logLine({ message: 'three' }));
    // The writer has written line 2 but not (all of) its line end yet.
    const partialEnd = eol === '\r\n' ? '\r' : '';
    const source = await tree({ 'state/runs/run-1.json': runState(), 'logs/runs/run-1.ndjson': `${l1}${eol}${l2}${partialEnd}` });
    expect(importExitCode(await importInto(t, source.root))).toBe(0);

    await appendFile(source.path('logs/runs/run-1.ndjson'), `${eol === '\r\n' ? '\n' : eol}${l3}${eol}`);
    const second = await importInto(t, source.root);
    expect(importExitCode(second)).toBe(0);
    const sequences = (await t.db.collection('pack_run_logs').find({}).sort({ sequence: 1 }).toArray()).map((doc) => [Number(doc.sequence), doc.message]);
    expect(sequences).toEqual([
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ]);
    expect(dumpText(await dumpDatabase(t.db))).toBe(await cleanImportOf(source.root, 'reg_unterminated_clean'));

    const all = await importInto(t, source.root, { useLedger: false });
    expect(all.totals).toMatchObject({ inserted: 0, conflict: 0 });
    expect(await t.db.collection('pack_run_logs').countDocuments({})).toBe(3);
  });

  it('finding 3: a half-written last line completed later is imported with its own line number', async () => {
    const t = await freshDb('reg_half_line');
    const l1 = JSON.stringify(logLine({ message: 'one' }));
    const l2 = JSON.stringify(logLine({ message: 'two' }));
    const source = await tree({ 'state/runs/run-1.json': runState(), 'logs/runs/run-1.ndjson': `${l1}\n${l2.slice(0, 20)}` });
    const first = await importInto(t, source.root);
    expect(first.totals.rejected).toBe(1); // reported, not silently dropped
    await appendFile(source.path('logs/runs/run-1.ndjson'), `${l2.slice(20)}\n`);
    const second = await importInto(t, source.root);
    expect(importExitCode(second)).toBe(0);
    expect(dumpText(await dumpDatabase(t.db))).toBe(await cleanImportOf(source.root, 'reg_half_line_clean'));
  });

  it('finding 4: a log re-homed to its run when its state file is readable again', async () => {
    const t = await freshDb('reg_rehome');
    const state = runState({ runId: 'tenant:run-1' });
    const source = await tree({
      'state/runs/tenant_run-1.json': state,
      'logs/runs/tenant_run-1.ndjson': ndjson([logLine({ message: 'one' }), logLine({ message: 'two' })]),
    });
    expect(importExitCode(await importInto(t, source.root))).toBe(0);

    await truncate(source.path('state/runs/tenant_run-1.json'), 0); // a crash mid-save
    await appendFile(source.path('logs/runs/tenant_run-1.ndjson'), ndjson([logLine({ message: 'three' })]));
    const broken = await importInto(t, source.root);
    expect(importExitCode(broken)).toBe(3);
    expect(broken.orphanRunIds).toEqual(['tenant_run-1']);

    await writeFile(source.path('state/runs/tenant_run-1.json'), `${JSON.stringify(state, null, 2)}\n`);
    const restored = await importInto(t, source.root);
    expect(importExitCode(restored)).toBe(0);
    const byRun = await t.db.collection('pack_run_logs').find({}).toArray();
    expect(byRun.map((doc) => doc.runId)).toEqual(['tenant:run-1', 'tenant:run-1', 'tenant:run-1']);
    expect(dumpText(await dumpDatabase(t.db))).toBe(await cleanImportOf(source.root, 'reg_rehome_clean'));
    // And the ledger does not skip a file whose attribution it has not seen (a further run is clean).
    const again = await importInto(t, source.root, { useLedger: false });
    expect(again.totals).toMatchObject({ inserted: 0, conflict: 0, rejected: 0 });
  });

  it('finding 5: a conflict met late in a long log keeps the file out of "done" (the next run still exits 3)', async () => {
    const t = await freshDb('reg_late_conflict');
    const lines = Array.from({ length: 23_000 }, (_, i) => logLine({ message: `line ${i + 1}`, timestamp: new Date(Date.UTC(2025, 10, 6, 9) + i * 1000).toISOString() }));
    const source = await tree({ 'state/runs/run-1.json': runState(), 'logs/runs/run-1.ndjson': ndjson(lines) });
    expect(importExitCode(await importInto(t, source.root))).toBe(0);

    lines[22_499] = logLine({ message: 'line 22500 (edited)', timestamp: new Date(Date.UTC(2025, 10, 6, 9) + 22_499 * 1000).toISOString() });
    await writeFile(source.path('logs/runs/run-1.ndjson'), ndjson(lines));
    const second = await importInto(t, source.root);
    expect(second.totals.conflict).toBe(1);
    expect(importExitCode(second)).toBe(3);
    const entry = (await new LedgerStore(t.db, LEDGER).allFiles()).find((file) => file.role === 'logs');
    expect(entry?.status).not.toBe('done');
    const third = await importInto(t, source.root);
    expect(third.totals.conflict).toBe(1);
    expect(importExitCode(third)).toBe(3);
  }, 300_000);

  it('finding 7: an import without the ledger still takes the lease (a second importer is refused)', async () => {
    const t = await freshDb('reg_noledger_lease');
    const source = await tree({ 'state/runs/run-1.json': runState() });
    const held: Document = {
      _id: 'lease:1/1',
      kind: 'lease',
      partition: '1/1',
      sessionId: 'someone-else',
      host: 'another-host.example',
      pid: 1,
      acquiredAt: new Date(),
      expiresAt: new Date(Date.now() + 60_000),
    };
    await t.db.collection(LEDGER).insertOne(held);
    await expect(importInto(t, source.root, { useLedger: false })).rejects.toThrow(/LEASE_HELD|another import/);
    expect(await t.db.collection('pack_runs').countDocuments({})).toBe(0);
  });

  it('finding 10: a file named in NFD is attributed to the NFC run, and the report says so', async () => {
    const t = await freshDb('reg_nfd');
    const nfc = 'café-1'.normalize('NFC');
    const nfd = nfc.normalize('NFD');
    expect(nfd).not.toBe(nfc);
    const source = await tree({
      [`state/runs/${nfc}.json`]: runState({ runId: nfc }),
      [`logs/runs/${nfd}.ndjson`]: ndjson([logLine()]),
      [`state/approvals/${nfd}.json`]: [approval()],
    });
    const report = await importInto(t, source.root);
    expect(report.orphanRunIds).toEqual([]);
    expect(await t.db.collection('pack_run_logs').distinct('runId')).toEqual([nfc]);
    expect(await t.db.collection('pack_run_approvals').distinct('runId')).toEqual([nfc]);
    const warning = report.warnings.find((w) => w.code === 'unicode-normalization');
    expect(warning?.message).toMatch(/NFD/);
    // The names in the message are shown escaped, so the two forms can be told apart.
    expect(warning?.message).toContain('\\u0301');
  });
});
