/**
 * vitest globalSetup: provisions ONE server for the whole run (see test-server.ts) and hands
 * its URI to the test workers via `provide`/`inject`. If no server can be had, this throws and
 * the whole run fails with the explanation: tests that need a server never skip silently.
 * TEST_BACKEND=sqlite|postgresql picks FerretDB's storage (default: the usual order, FerretDB on
 * SQLite); MONGODB_URI, when set, still wins. The backend used is printed either way.
 */
import type { TestProject } from 'vitest/node';
import { startTestServer, type TestServer } from './test-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Server connection string without a database path (may carry credentials: never print). */
    mongoUri: string;
    /** 'env' | 'mongodb-memory-server' | 'ferretdb' */
    serverKind: string;
    /** FerretDB's storage ('sqlite' | 'postgresql'), or '' for any other server. */
    serverBackend: string;
  }
}

let server: TestServer | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  server = await startTestServer();
  const backend = server.backend ?? '';
  process.stderr.write(
    `[test-server] tests use ${server.kind}${backend ? ` (backend ${backend})` : ''}: ${server.description}\n`,
  );
  project.provide('mongoUri', server.uri);
  project.provide('serverKind', server.kind);
  project.provide('serverBackend', backend);
  return async () => {
    const s = server;
    server = undefined;
    await s?.stop();
  };
}
