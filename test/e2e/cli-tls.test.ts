/**
 * TLS over the wire with the built CLI: a throwaway CA, server and client certificates (openssl,
 * temp folder), and a FerretDB of this test's own listening with TLS and requiring client
 * certificates signed by that CA (FerretDB does when given a CA file). The import succeeds with
 * the right CA and client certificate; a wrong CA, a missing client certificate or one from
 * another CA fail cleanly: exit 1, [DB_CONNECT_FAILED], no stack trace, no password.
 * Backend: TEST_BACKEND (sqlite by default), like every FerretDB the tests start.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTlsCerts, type TlsCerts } from '../helpers/tls-certs.js';
import { startFerretDb, type FerretDbHandle } from '../helpers/test-server.js';
import { runCli, type CliResult } from './cli-resume-support.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const PASSWORD = 'Tls-S3cret_pw';

let certs: TlsCerts;
let server: FerretDbHandle;
/** `mongodb://127.0.0.1:TLSPORT` (no path, no options). */
let tlsHost: string;

beforeAll(async () => {
  certs = await makeTlsCerts();
  server = await startFerretDb({ tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile } });
  if (!server.tlsPort) throw new Error('the test server started without its TLS listener');
  tlsHost = `mongodb://127.0.0.1:${server.tlsPort}`;
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await certs?.remove();
}, 60_000);

/** The CLI's stderr must never show a stack trace or the password. */
function expectCleanFailure(result: CliResult): void {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(1);
  expect(result.stderr).toContain('[DB_CONNECT_FAILED]');
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr + result.stdout).not.toContain(PASSWORD);
}

/** Opens a driver connection over TLS with `options` and pings; returns the error, if any. */
async function tryPing(options: MongoClientOptions): Promise<unknown> {
  const client = new MongoClient(`${tlsHost}/`, { serverSelectionTimeoutMS: 3_000, directConnection: true, tls: true, ...options });
  try {
    await client.db('admin').command({ ping: 1 });
    return undefined;
  } catch (e) {
    return e;
  } finally {
    await client.close().catch(() => undefined);
  }
}

describe('import over TLS (own FerretDB with a TLS listener)', () => {
  it('imports the sample with the right CA and client certificate (flags), and the URI form works too', async () => {
    const db = 'tls_import';
    const result = await runCli([
      'import', '--source', SAMPLE, '--uri', `${tlsHost}/${db}`, '--json', '--quiet',
      '--tls-ca-file', certs.caFile, '--tls-certificate-key-file', certs.clientPemFile,
    ]);
    // 3: the sample deliberately holds broken files (fixtures/README.md).
    expect([0, 3], result.stderr).toContain(result.code);
    const report = JSON.parse(result.stdout) as { complete: boolean; totals: { inserted: number } };
    expect(report.complete).toBe(true);
    const expected = JSON.parse(await readFile(path.join(REPO, 'fixtures/sample.expected.json'), 'utf8')) as { documents: Record<string, number> };
    const total = Object.values(expected.documents).reduce((a, b) => a + b, 0);
    expect(report.totals.inserted).toBe(total);

    // Read back over TLS with the driver: the documents are there.
    const client = new MongoClient(`${tlsHost}/`, { tls: true, tlsCAFile: certs.caFile, tlsCertificateKeyFile: certs.clientPemFile, directConnection: true });
    try {
      for (const [collection, count] of Object.entries(expected.documents)) {
        expect(await client.db(db).collection(collection).countDocuments({}), collection).toBe(count);
      }
    } finally {
      await client.close();
    }

    // The same options in the connection string instead of flags.
    const viaUri = `${tlsHost}/${db}?tls=true&tlsCAFile=${encodeURIComponent(certs.caFile)}&tlsCertificateKeyFile=${encodeURIComponent(certs.clientPemFile)}`;
    const status = await runCli(['status', '--uri', viaUri, '--json']);
    expect(status.code, status.stderr).toBe(0);
  });

  it('fails cleanly with a wrong CA: exit 1, [DB_CONNECT_FAILED], no stack trace, no password', async () => {
    const uri = `mongodb://backfill:${PASSWORD}@127.0.0.1:${server.tlsPort}/tls_wrong_ca?authSource=admin&serverSelectionTimeoutMS=3000`;
    const result = await runCli([
      'import', '--source', SAMPLE, '--uri', uri, '--tls-ca-file', certs.wrongCaFile, '--tls-certificate-key-file', certs.clientPemFile,
    ]);
    expectCleanFailure(result);
    expect(result.stderr).toMatch(/certificate/i);
  });

  it('requires a client certificate: none, or one from another CA, is refused', async () => {
    const uri = `${tlsHost}/tls_no_client_cert?serverSelectionTimeoutMS=3000`;
    expectCleanFailure(await runCli(['import', '--source', SAMPLE, '--uri', uri, '--tls-ca-file', certs.caFile]));
    expectCleanFailure(
      await runCli(['import', '--source', SAMPLE, '--uri', uri, '--tls-ca-file', certs.caFile, '--tls-certificate-key-file', certs.wrongClientPemFile]),
    );

    // The same with the driver directly, next to the control case that works: so the refusals
    // above are the client certificate's doing, not something else about the connection.
    expect(await tryPing({ tlsCAFile: certs.caFile, tlsCertificateKeyFile: certs.clientPemFile })).toBeUndefined();
    expect(await tryPing({ tlsCAFile: certs.caFile })).toBeInstanceOf(Error);
    expect(await tryPing({ tlsCAFile: certs.caFile, tlsCertificateKeyFile: certs.wrongClientPemFile })).toBeInstanceOf(Error);
    // And no plain connection on the TLS port.
    expect(await tryPing({ tls: false })).toBeInstanceOf(Error);
  });
});
