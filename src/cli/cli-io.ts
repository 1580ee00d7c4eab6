import type { StderrLines } from './stderr-lines.js';

/** What the CLI touches of the outside world, injected so tests can run it in-process. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM by main; never by tests unless they want to. */
  signal?: AbortSignal;
  /**
   * Whole lines for stderr (logs, the stop notice), routed above the progress bars while they are
   * shown. main.ts passes the one its signal handler writes the stop notice to; without it each
   * command makes its own over `stderr`.
   */
  lines?: StderrLines;
  /** Where a missing password is read from, only when it and stderr are terminals; none by default. */
  stdin?: NodeJS.ReadStream;
}
