#!/usr/bin/env node
import { EXIT_CODES } from './exit-codes.js';
import { runCli } from './run-cli.js';
import { limitHeapGrowth } from '../runtime/heap-growth.js';
import { StderrLines } from './stderr-lines.js';

// Peak memory: see heap-growth.ts (the live heap is small; V8 would let it grow to 4x).
limitHeapGrowth();

// SIGINT/SIGTERM abort the run: reading stops, in-flight batches finish, the report is printed
// and the process exits 4 ("run the same command again"). A second signal exits at once.
// The notice goes through the same line writer as the logs, so with progress bars on screen it
// lands on a line of its own above them instead of being glued to a bar.
const lines = new StderrLines(process.stderr);
const controller = new AbortController();
let signals = 0;
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    signals += 1;
    if (signals > 1) process.exit(130);
    lines.line(`taskrunner-backfill: ${name} received; finishing the batches in flight, then stopping`);
    controller.abort();
  });
}

// No top-level await: the single executable runs this file bundled as CommonJS, which has none.
runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
  lines,
  stdin: process.stdin,
}).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    // runCli maps every error to an exit code; reaching this is a bug in it.
    process.stderr.write(`taskrunner-backfill: internal error (a bug; please report it): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = EXIT_CODES.failure;
  },
);
