/**
 * The database goes away in the middle of an import and comes back: this test runs its own
 * FerretDB on a fixed port and data directory, stops it (data kept) while the CLI is writing,
 * and starts it again two seconds later. The CLI either rides the outage out (bounded retries)
 * or exits 4 saying to run the same command again; the re-run ends identical to a clean import.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { makeSyntheticTree, type SyntheticTree } from '../helpers/synthetic-tree.js';
import { getFreePort, startFerretDb, type FerretDbHandle } from '../helpers/test-server.js';
import {
  countsOf,
  importArgs,
  killLeftovers,
  lastSessionOutcome,
  freezeAt,
  parseReport,
  runCli,
  startCli,
  stateOf,
} from './cli-resume-support.js';

let server: FerretDbHandle | undefined;
let port: number;
let dataDir: string;
let client: MongoClient;
let tree: SyntheticTree;
let referenceState: string;

beforeAll(async () => {
  port = await getFreePort();
  dataDir = await mkdtemp(path.join(tmpdir(), 'backfill-restart-ferretdb-'));
  server = await startFerretDb({ port, dataDir });
  client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 30_000 });
  await client.connect();
  tree = await makeSyntheticTree({ runs: 40, linesPerRun: 100 });
  const reference = await runCli(importArgs(tree.root, server.uri, 'restart_ref', ['--no-ledger']));
  expect(reference.code, reference.stderr).toBe(0);
  referenceState = await stateOf(client.db('restart_ref'));
}, 120_000);

afterEach(() => killLeftovers());

afterAll(async () => {
  killLeftovers();
  await client?.close().catch(() => undefined);
  await server?.stop(); // removes the data directory
  await tree?.remove();
}, 60_000);

test('the server stops mid-import and restarts on the same port and data: the same command ends identical to a clean import', async () => {
  const running = server;
  if (!running) throw new Error('no server');
  const db = client.db('restart');
  const args = importArgs(tree.root, running.uri, 'restart');
  const cli = startCli(args);

  // Freeze the importer at 30% of the logs so the outage surely lands mid-import, stop the
  // server under it, let it run into the closed port, then bring the server back.
  const threshold = Math.ceil(0.3 * tree.expected.logs);
  const stop = await freezeAt(cli, db, threshold);
  expect(stop.interrupted, 'the import finished before the outage').toBe(true);
  const logsAtStop = stop.logsAtStop;
  await running.stop({ keepData: true });
  process.kill(cli.pid, 'SIGCONT');
  await sleep(2_000);
  server = await startFerretDb({ port, dataDir });
  expect(server.uri).toBe(running.uri);

  const during = await cli.result;
  console.log(`server stopped at ${logsAtStop}/${tree.expected.logs} log entries; the import then exited ${during.code} after ${during.ms} ms`);
  expect(logsAtStop).toBeLessThan(tree.expected.logs);
  expect([0, 4]).toContain(during.code);
  if (during.code === 4) {
    expect(during.stderr).toMatch(/run the same command again/i);
  } else {
    // Rode it out: the report is complete and nothing was rejected on the way.
    const report = parseReport(during);
    expect(report.complete).toBe(true);
    expect(report.totals.rejected + report.totals.conflict).toBe(0);
  }

  const again = await runCli(args);
  expect(again.code, again.stderr).toBe(0);
  const rerun = parseReport(again);
  console.log(`re-run: ${again.ms} ms, ${rerun.files.skippedUnchanged} files skipped, totals ${JSON.stringify(rerun.totals)}`);
  expect(rerun.complete).toBe(true);
  expect(await countsOf(db)).toEqual(tree.expected);
  expect(await stateOf(db)).toBe(referenceState);
  expect(await lastSessionOutcome(running.uri, 'restart')).toBe('complete');
}, 120_000);
