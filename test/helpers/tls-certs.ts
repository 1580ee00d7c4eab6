/**
 * Throwaway TLS material made with the openssl CLI in a temp folder: a CA, a server certificate
 * for 127.0.0.1/localhost signed by it, a client certificate signed by it, and a second,
 * unrelated CA (the "wrong" one). Keys are P-256, certificates valid for two days.
 *
 *   const certs = await makeTlsCerts();
 *   try { ... certs.caFile, certs.serverCertFile, certs.clientPemFile ... } finally { await certs.remove(); }
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsCerts {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Client certificate and its key in one PEM (the driver's tlsCertificateKeyFile). */
  clientPemFile: string;
  /** A self-signed CA that signed nothing here. */
  wrongCaFile: string;
  /** A client certificate + key signed by the wrong CA. */
  wrongClientPemFile: string;
  remove(): Promise<void>;
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: 60_000 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new Error(
          missing
            ? 'openssl is not installed: the TLS tests need the openssl command (Debian package openssl)'
            : `openssl ${args.join(' ')} failed: ${stderr || error.message}`,
        ),
      );
    });
  });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(
    ['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=taskrunner-backfill test ${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
}

async function makeLeaf(dir: string, name: string, ca: string, cn: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  await openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`],
    dir,
  );
}

export async function makeTlsCerts(): Promise<TlsCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'taskrunner-tls-'));
  try {
    await makeCa(dir, 'ca');
    await makeCa(dir, 'wrong-ca');
    await makeLeaf(dir, 'server', 'ca', 'localhost',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
    const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
    await makeLeaf(dir, 'client', 'ca', 'backfill-client', clientExt);
    await makeLeaf(dir, 'wrong-client', 'wrong-ca', 'backfill-client', clientExt);
    for (const name of ['client', 'wrong-client']) {
      const pem = (await readFile(join(dir, `${name}.pem`), 'utf8')) + (await readFile(join(dir, `${name}.key`), 'utf8'));
      await writeFile(join(dir, `${name}-with-key.pem`), pem, { mode: 0o600 });
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    clientPemFile: join(dir, 'client-with-key.pem'),
    wrongCaFile: join(dir, 'wrong-ca.pem'),
    wrongClientPemFile: join(dir, 'wrong-client-with-key.pem'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
