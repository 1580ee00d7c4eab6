/**
 * Shrunk counterexamples of the model-based test (import-model-based.test.ts), replayed as fixed
 * regression tests. Each one made the importer of 3458fb8 diverge from the model.
 */
import { afterAll, describe, it } from 'vitest';
import {
  AppendLog,
  CreateRun,
  DeleteFile,
  Import,
  InterruptedImport,
  RewriteState,
  TruncateState,
  TwoImports,
  WriteApprovals,
  runSequence,
  type Cmd,
} from '../helpers/import-model-commands.js';
import { testDatabases } from '../helpers/test-db.js';

const databases = testDatabases({ useBigInt64: true });
afterAll(() => databases.dropAll(), 60_000);

const COUNTEREXAMPLES: Array<[string, () => Cmd[]]> = [
  [
    // A log imported under its run; the state file truncated (a crash mid-save): the log went to
    // the orphan runId "_" and stayed there after a kill -9 and the same command again.
    'orphaned by a truncated state file, then killed and re-run',
    () => [new CreateRun('/', 0), new AppendLog(0, 'same', ['entry'], '\n', 'complete'), new Import(true, 0, false), new TruncateState(0), new InterruptedImport('SIGKILL', 0)],
  ],
  [
    // Approvals imported as orphans (no state file); the state file written again: the ledger
    // skipped the approvals file and the copies under "_" were never moved to run "/".
    'approvals imported as orphans, then the state file written again',
    () => [
      new CreateRun('/', 0),
      new DeleteFile(0),
      new WriteApprovals(0, 'same', ['x'.repeat(120)], 0, false),
      new Import(false, 0, true),
      new RewriteState(0, 0),
      new TwoImports(),
    ],
  ],
  [
    // A log named in NFD (copied through macOS) for a run whose runId is NFC: imported under a
    // look-alike orphan runId.
    'a log named in NFD for an NFC run',
    () => [new CreateRun(`${'\u00e9'.repeat(40)}#long`, 2), new AppendLog(0, 'NFD', ['garbage', 'entry'], '\r\n', 'cr'), new TwoImports()],
  ],
];

describe('model-based counterexamples, replayed', () => {
  it.each(COUNTEREXAMPLES)('%s', async (_name, commands) => {
    await runSequence(commands(), (prefix) => databases.open(prefix));
  }, 120_000);
});
