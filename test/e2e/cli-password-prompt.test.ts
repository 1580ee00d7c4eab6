/**
 * A connection string with a user and no password, run at a terminal: the CLI asks for the password
 * with hidden input (as mongoimport does) and connects with it (issue 11). The terminal is a real
 * pseudo-terminal (`script`), and the password is shown to reach the server: on FerretDB (whose
 * PLAIN mechanism accepts any password) through a pass-through TCP proxy that sees the PLAIN
 * payload; on a server with real credentials (MONGODB_URI with user and password) by
 * authentication succeeding. The non-terminal path is in cli-usage-errors.test.ts.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isFerretDb, testDatabases, withDatabase } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const PROMPT = /Password for \S+@\S*: $/;

const databases = testDatabases({ useBigInt64: true });
afterAll(() => databases.dropAll());

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs the CLI under `script` (stdin, stdout and stderr on a pseudo-terminal), types `answer` and
 * Enter once the prompt is shown, and returns everything the terminal displayed.
 */
function atTerminal(args: readonly string[], answer: string): Promise<{ code: number | null; screen: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^taskrunner/i.test(name)));
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let answered = false;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    if (!answered && PROMPT.test(screen)) {
      answered = true;
      child.stdin.write(`${answer}\r`);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

/** A TCP pass-through to the test server that keeps what clients sent. */
async function proxyTo(uri: string): Promise<{ port: number; sent(): Buffer[]; close(): Promise<void> }> {
  const match = /^mongodb:\/\/(?:[^@/]*@)?([^:/,]+):(\d+)/.exec(uri);
  if (!match) throw new Error('the proxy needs a single-host mongodb:// test server');
  const [, host = '', port = ''] = match;
  const sent: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), host);
    const chunks: Buffer[] = [];
    sent.push(Buffer.alloc(0));
    const slot = sent.length - 1;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (data: Buffer) => {
      chunks.push(data);
      sent[slot] = Buffer.concat(chunks);
      upstream.write(data);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    sent: () => sent,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('a missing password is asked for at a terminal (issue 11)', () => {
  it('prompts with hidden input, connects with the typed password, and never shows it', async () => {
    const t = await databases.open('prompt');
    const base = withDatabase(inject('mongoUri'), t.dbName);
    if (await isFerretDb(t.client)) {
      const proxy = await proxyTo(base);
      try {
        const typed = 'pr0mpt s3cret:@/é';
        // FerretDB on PostgreSQL hands PLAIN credentials to PostgreSQL, whose test cluster takes any
        // password on loopback but only its own roles: there the user is `postgres`.
        const user = inject('serverBackend') === 'postgresql' ? 'postgres' : 'backfill';
        const uri = `mongodb://${user}@127.0.0.1:${proxy.port}/${t.dbName}?authMechanism=PLAIN&authSource=admin`;
        const { code, screen } = await atTerminal(['status', '--uri', uri, '--json'], typed);
        expect(code, screen).toBe(0);
        expect(screen).toContain(`Password for ${user}@127.0.0.1:${proxy.port}: `);
        expect(screen).toContain('"ledgerCollection":"taskrunner_backfill_ledger"');
        // Hidden: the terminal never displayed it, raw or encoded.
        expect(screen).not.toContain(typed);
        expect(screen).not.toContain(encodeURIComponent(typed));
        // PLAIN's payload is "\0user\0password": the typed password went to the server.
        const payload = Buffer.from(`\0${user}\0${typed}`, 'utf8');
        expect(proxy.sent().some((bytes) => bytes.includes(payload))).toBe(true);
      } finally {
        await proxy.close();
      }
    } else {
      const credentials = /^mongodb(?:\+srv)?:\/\/([^:@/]+):([^@/]+)@/.exec(base);
      if (!credentials) throw new Error('this test needs FerretDB or a MONGODB_URI with a user and password');
      const [, user = '', password = ''] = credentials;
      const uri = base.replace(`${user}:${password}@`, `${user}@`);
      const { code, screen } = await atTerminal(['status', '--uri', uri, '--json'], decodeURIComponent(password));
      // Authentication succeeded, so the typed password was the one used.
      expect(code, screen).toBe(0);
      expect(screen).not.toContain(decodeURIComponent(password));
    }
  });

  it('an empty answer is a usage error (exit 2), not an attempt without a password', async () => {
    const t = await databases.open('prompt_empty');
    const uri = withDatabase(inject('mongoUri'), t.dbName).replace(/^mongodb:\/\/(?:[^@/]*@)?/, 'mongodb://backfill@');
    const { code, screen } = await atTerminal(['import', '--source', 'fixtures/sample', '--uri', uri], '');
    expect(code, screen).toBe(2);
    expect(screen).toMatch(/no password entered for user "backfill"/);
    expect(await t.db.listCollections({}, { nameOnly: true }).toArray()).toEqual([]);
  });
});
