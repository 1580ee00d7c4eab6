/**
 * Dev helper around test-server.ts (run after `npm run build`):
 *   npm run test-server -- build                       ensure the FerretDB binary exists; print its path
 *   npm run test-server -- start [--backend sqlite|postgresql] [--tls]
 *       start a server (same order as the tests; --backend, or TEST_BACKEND, picks FerretDB's
 *       storage), print its URI, run until SIGINT/SIGTERM, then stop it. --tls: a FerretDB that
 *       also listens with TLS (throwaway CA and certificates made with openssl); prints the TLS
 *       URI with tlsCAFile and tlsCertificateKeyFile.
 * Logs go to stderr; stdout carries only the path or the URI.
 */
import { makeTlsCerts, type TlsCerts } from './tls-certs.js';
import { FERRETDB_BACKENDS, ensureFerretDbBinary, startFerretDb, startTestServer, type FerretDbBackend } from './test-server.js';

const log = (line: string): void => void process.stderr.write(`[test-server] ${line}\n`);
const USAGE = 'usage: test-server-cli build | start [--backend sqlite|postgresql] [--tls]\n';

class UsageError extends Error {}

function parseStart(args: string[]): { backend?: FerretDbBackend; tls: boolean } {
  let backend: FerretDbBackend | undefined;
  let tls = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] = arg.split('=', 2);
    if (flag === '--backend') {
      const value = inline ?? args[++i];
      if (!value || !(FERRETDB_BACKENDS as readonly string[]).includes(value)) {
        throw new UsageError(`--backend must be one of ${FERRETDB_BACKENDS.join(', ')} (got ${value ?? 'nothing'})`);
      }
      backend = value as FerretDbBackend;
    } else if (arg === '--tls') {
      tls = true;
    } else {
      throw new UsageError(`unknown argument ${arg}`);
    }
  }
  return { ...(backend ? { backend } : {}), tls };
}

async function waitForSignal(): Promise<void> {
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(keepAlive);
  log('stopping');
  // Further signals (a second Ctrl-C, `timeout` forwarding one) must not cut the clean stop short.
  const again = (): void => log('already stopping');
  process.on('SIGINT', again);
  process.on('SIGTERM', again);
}

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
    const opts = parseStart(argv.slice(1));
    if (opts.tls) {
      let certs: TlsCerts | undefined;
      try {
        certs = await makeTlsCerts();
        const server = await startFerretDb({
          log,
          ...(opts.backend ? { backend: opts.backend } : {}),
          tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile },
        });
        log(`started ${server.description}; certificates in ${certs.dir}; Ctrl-C to stop`);
        const q = `tlsCAFile=${encodeURIComponent(certs.caFile)}&tlsCertificateKeyFile=${encodeURIComponent(certs.clientPemFile)}`;
        process.stdout.write(`${server.tlsUri ?? ''}&${q}\n`);
        await waitForSignal();
        await server.stop();
      } finally {
        await certs?.remove();
      }
      return 0;
    }
    const server = await startTestServer({ log, ...(opts.backend ? { backend: opts.backend } : {}) });
    log(`started ${server.kind}: ${server.description}; Ctrl-C to stop`);
    process.stdout.write(`${server.uri}\n`);
    await waitForSignal();
    await server.stop();
    return 0;
  }
  process.stderr.write(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`[test-server] ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    process.stderr.write(`[test-server] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
