/** What the CLI touches of the outside world, injected so tests can run it in-process. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT/SIGTERM by main; never by tests unless they want to. */
  signal?: AbortSignal;
  /** Where a missing password is read from, only when it and stderr are terminals; none by default. */
  stdin?: NodeJS.ReadStream;
}
