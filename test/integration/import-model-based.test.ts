/**
 * Model-based stateful test of the importer (fast-check `fc.commands` + `fc.asyncModelRun`).
 *
 * The model (test/helpers/import-model.ts) is a deliberately simple reference: a pure function
 * from the source tree to the documents a clean import would hold, plus the documented re-run
 * rules (insert-if-absent logs, newer-wins versioned documents keeping their `_id`, kept-newer,
 * conflicts, re-homing of orphan copies). Commands change the source tree the way a live
 * provider, a crash or an operator would (runIds and names from a hostile alphabet, appended
 * lines with and without line ends, CR-only endings completed later, half-written lines,
 * truncated and restored state files, corrupted and repaired lines, deleted and restored files,
 * NFD-named files), write to the database as the live service would, and import: in process
 * with and without the ledger, with `--partition`, two at once, and as the built CLI killed with
 * SIGKILL or SIGTERM at a random moment and then run again with the same command.
 *
 * After every import that completes, all four collections (`_id`s included) must equal the model,
 * and the exit code and the rejected/conflict counts must agree with it.
 *
 * Size: FC_RUNS command sequences (default 6) of at most FC_COMMANDS commands (default 25), seed
 * FC_SEED (default fixed). A larger run: `FC_RUNS=200 FC_SEED=random npx vitest run
 * test/integration/import-model-based.test.ts`.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { commandArbs, runSequence, stats } from '../helpers/import-model-commands.js';
import { testDatabases } from '../helpers/test-db.js';

const RUNS = Number(process.env.FC_RUNS ?? 6);
const MAX_COMMANDS = Number(process.env.FC_COMMANDS ?? 25);
const SEED = process.env.FC_SEED === 'random' ? Date.now() : Number(process.env.FC_SEED ?? 20261129);

const databases = testDatabases({ useBigInt64: true });
afterAll(() => databases.dropAll(), 60_000);

describe('the importer against a reference model (fast-check, stateful)', () => {
  it(`every completed import leaves the database equal to the model (${RUNS} sequences of up to ${MAX_COMMANDS} commands, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commandArbs, { maxCommands: MAX_COMMANDS, size: 'max' }), (commands) => runSequence(commands, (prefix) => databases.open(prefix))),
      { numRuns: RUNS, seed: SEED, verbose: 1, endOnFailure: process.env.FC_SHRINK !== '1' },
    );
    process.stderr.write(`[model-based] ${JSON.stringify({ seed: SEED, ...stats })}\n`);
    expect(stats.imports).toBeGreaterThan(0);
  }, 3_600_000);
});
