/**
 * Dev helper around test-server.ts (run after `npm run build`):
 *   npm run test-server -- build   ensure the FerretDB binary exists; print its path
 *   npm run test-server -- start   start a server (same order as the tests), print its URI,
 *                                  run until SIGINT/SIGTERM, then stop it
 * Logs go to stderr; stdout carries only the path or the URI.
 */
import { ensureFerretDbBinary, startTestServer } from './test-server.js';

const log = (line: string): void => void process.stderr.write(`[test-server] ${line}\n`);

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  if (cmd === 'build') {
    const started = Date.now();
    const bin = await ensureFerretDbBinary(log);
    log(`FerretDB binary ready (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    process.stdout.write(`${bin}\n`);
    return 0;
  }
  if (cmd === 'start') {
    const server = await startTestServer({ log });
    log(`started ${server.kind}: ${server.description}; Ctrl-C to stop`);
    process.stdout.write(`${server.uri}\n`);
    const keepAlive = setInterval(() => undefined, 1 << 30);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    clearInterval(keepAlive);
    log('stopping');
    await server.stop();
    return 0;
  }
  process.stderr.write('usage: test-server-cli build | start\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[test-server] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
