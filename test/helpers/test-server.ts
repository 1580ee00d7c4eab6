/**
 * Provisioning of a real MongoDB-wire-protocol server for tests and dev scripts.
 *
 * One module, used by the vitest global setup (from TS source) and by
 * `test-server-cli` (compiled to dist/test/helpers). Order of preference:
 *   (a) MONGODB_URI                      – an existing server; never stopped by us
 *   (b) mongodb-memory-server            – real mongod (MONGOMS_SYSTEM_BINARY or its download)
 *   (c) FerretDB v1.24.2 (SQLite)        – built once from tools/ferretdb with Go, cached
 * See /work/shared/notes/test-mongodb.md (shared notes) for why (c) exists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';

export type TestServerKind = 'env' | 'mongodb-memory-server' | 'ferretdb';

export interface TestServer {
  /** Connection string without a database path (e.g. `mongodb://127.0.0.1:PORT/`). */
  uri: string;
  kind: TestServerKind;
  /** Human-readable, credentials redacted: safe to print. */
  description: string;
  stop(): Promise<void>;
}

export interface StartTestServerOptions {
  log?: (line: string) => void;
}

export const FERRETDB_VERSION = 'v1.24.2';
const BINARY_NAME = 'ferretdb-test-server';
const MEMORY_SERVER_TIMEOUT_MS = 30_000;
const FERRETDB_READY_TIMEOUT_MS = 60_000;
const FERRETDB_BUILD_TIMEOUT_MS = 20 * 60_000;
const STOP_GRACE_MS = 10_000;

const defaultLog = (line: string): void => {
  process.stderr.write(`[test-server] ${line}\n`);
};

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

const SECRET_QUERY_KEYS = /pass|secret|token|authmechanismproperties|key/i;

/** Removes passwords (and secret-looking query options) from a MongoDB connection string. */
export function redactUri(uri: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(uri);
  if (!m) return '<unparseable connection string, REDACTED>';
  const [, scheme = '', authority = '', rest = ''] = m;
  let auth = authority;
  const at = auth.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = auth.slice(0, at);
    const hosts = auth.slice(at + 1);
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    auth = `${user}:REDACTED@${hosts}`;
  }
  let tail = rest;
  const q = tail.indexOf('?');
  if (q >= 0) {
    const params = tail
      .slice(q + 1)
      .split('&')
      .map((kv) => {
        const eq = kv.indexOf('=');
        const key = eq >= 0 ? kv.slice(0, eq) : kv;
        return SECRET_QUERY_KEYS.test(key) && eq >= 0 ? `${key}=REDACTED` : kv;
      });
    tail = `${tail.slice(0, q)}?${params.join('&')}`;
  }
  return `${scheme}${auth}${tail}`;
}

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

/** A short, single-line description of an error (for one-line log messages). */
function errorMessage(err: unknown, max = 240): string {
  let text = String(err);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    text = err.message;
    if (code !== undefined && !text.includes(String(code))) text = `${String(code)}: ${text}`;
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms`; the timer does not keep the process alive. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000}s`)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Asks the OS for a free loopback TCP port (listen on 0, close, return it). */
export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** Repository root: nearest ancestor of this module's directory holding a package.json. */
export function findRepoRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json found above ${start}`);
    dir = parent;
  }
}

/** Keeps the last `max` characters written to it. */
class Tail {
  private buf = '';
  constructor(private readonly max = 4000) {}
  push(chunk: Buffer | string): void {
    this.buf = (this.buf + chunk.toString()).slice(-this.max);
  }
  toString(): string {
    return this.buf.trimEnd();
  }
}

function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; spawnError?: Error }> {
  return new Promise((resolve) => {
    const tail = new Tail(6000);
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: null, signal: null, output: '', spawnError: e as Error });
      return;
    }
    child.stdout?.on('data', (d: Buffer) => tail.push(d));
    child.stderr?.on('data', (d: Buffer) => tail.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    let spawnError: Error | undefined;
    child.once('error', (e) => {
      spawnError = e;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output: tail.toString(), ...(spawnError ? { spawnError } : {}) });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Child-process bookkeeping: never leave a FerretDB behind when the parent goes away
// ---------------------------------------------------------------------------------------------

const liveChildren = new Map<ChildProcess, { dataDir: string }>();
/** Data directories created by this module (removed on parent exit even if stop() never ran). */
const ownedDataDirs = new Set<string>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const [child] of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
  for (const dir of ownedDataDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  ownedDataDirs.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // If someone else handles this signal (e.g. the CLI, vitest), let them stop gracefully;
      // the 'exit' hook is the backstop. Otherwise restore default behaviour after cleanup.
      if (process.listenerCount(sig) > 1) return;
      killAllSync();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// FerretDB binary
// ---------------------------------------------------------------------------------------------

export function ferretDbBinaryPath(): string {
  const override = process.env.FERRETDB_BIN;
  if (override) return override;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'taskrunner-backfill', `ferretdb-${FERRETDB_VERSION}`, BINARY_NAME);
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    return s.isFile() && (s.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Returns the path of the FerretDB test-server binary, building it with Go if absent.
 * The build goes to a unique temporary name and is renamed into place (atomic on one
 * filesystem), so concurrent builders never expose a half-written binary.
 */
export async function ensureFerretDbBinary(log: (line: string) => void = defaultLog): Promise<string> {
  const bin = ferretDbBinaryPath();
  if (await isExecutableFile(bin)) return bin;

  const srcDir = join(findRepoRoot(), 'tools', 'ferretdb');
  if (!existsSync(join(srcDir, 'go.mod'))) {
    throw new Error(`FerretDB binary ${bin} is missing and the Go module ${srcDir} was not found`);
  }
  const goVersion = await runCommand('go', ['version'], { timeoutMs: 30_000 });
  if (goVersion.spawnError || goVersion.code !== 0) {
    throw new Error(
      `FerretDB binary ${bin} is missing and Go is not available to build it ` +
        `(${goVersion.spawnError ? errorMessage(goVersion.spawnError) : goVersion.output})`,
    );
  }

  await mkdir(dirname(bin), { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const started = Date.now();
  log(`building FerretDB ${FERRETDB_VERSION} test server with ${goVersion.output.trim()} (one-time; ~1-3 min) -> ${bin}`);
  const env = { ...process.env, GOFLAGS: [process.env.GOFLAGS, '-mod=mod'].filter(Boolean).join(' ') };
  const res = await runCommand('go', ['build', '-o', tmp, '.'], {
    cwd: srcDir,
    env,
    timeoutMs: FERRETDB_BUILD_TIMEOUT_MS,
  });
  if (res.spawnError || res.code !== 0 || !(await isExecutableFile(tmp))) {
    await unlink(tmp).catch(() => undefined);
    throw new Error(
      `building FerretDB (go build in ${srcDir}) failed` +
        (res.signal ? ` (killed by ${res.signal}, timeout ${FERRETDB_BUILD_TIMEOUT_MS / 60_000} min)` : '') +
        `:\n${res.spawnError ? errorMessage(res.spawnError) : res.output}`,
    );
  }
  await rename(tmp, bin);
  log(`built FerretDB test server in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return bin;
}

// ---------------------------------------------------------------------------------------------
// FerretDB process
// ---------------------------------------------------------------------------------------------

export interface FerretDbHandle {
  uri: string;
  port: number;
  dataDir: string;
  binary: string;
  pid: number | undefined;
  /** SIGTERM, wait, SIGKILL fallback; removes dataDir unless `keepData`. Idempotent. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartFerretDbOptions {
  /** Fixed port (e.g. to restart on the same port); default: a free one from the OS. */
  port?: number;
  /** Existing or new data directory (e.g. to restart on the same data); default: fresh temp dir. */
  dataDir?: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

class AddressInUseError extends Error {
  constructor(message: string) {
    super(`${message}: address already in use`);
    this.name = 'AddressInUseError';
  }
}

async function pingUntilReady(uri: string, child: ChildProcess, tail: Tail, deadlineMs: number): Promise<void> {
  let lastErr: unknown;
  while (Date.now() < deadlineMs) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `FerretDB exited (${child.exitCode ?? child.signalCode}) before answering ping; output tail:\n${tail.toString()}`,
      );
    }
    const client = new MongoClient(uri, {
      serverSelectionTimeoutMS: 1000,
      connectTimeoutMS: 1000,
      directConnection: true,
    });
    try {
      const admin = client.db('admin');
      await admin.command({ ping: 1 });
      // Make sure the answer came from our child, not from another server already on the port.
      const status = await admin.command({ serverStatus: 1 });
      const pid = Number(status.pid);
      if (Number.isFinite(pid) && pid > 0 && pid !== child.pid) {
        throw new AddressInUseError(`port of ${uri} is already used by another server (pid ${pid})`);
      }
      return;
    } catch (e) {
      if (e instanceof AddressInUseError) throw e;
      lastErr = e;
    } finally {
      await client.close().catch(() => undefined);
    }
    await sleep(200);
  }
  throw new Error(
    `FerretDB did not answer ping at ${uri} in time (${errorMessage(lastErr)}); output tail:\n${tail.toString()}`,
  );
}

/**
 * The throwaway server's Go runtime settings. FerretDB converts every document between BSON and
 * its own types and JSON, so its garbage collector is busy: GOGC=1000 (collect at 10x the live
 * heap, with GOMEMLIMIT as the ceiling) measured 20-25 % faster inserts on 2 cores, for the
 * tool and the raw-driver baseline alike. Values already in the environment win.
 */
export function ferretDbEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GOGC: env.GOGC ?? '1000', GOMEMLIMIT: env.GOMEMLIMIT ?? '2GiB' };
}

async function startFerretDbOnce(
  binary: string,
  port: number,
  dataDir: string,
  readyTimeoutMs: number,
): Promise<{ child: ChildProcess; tail: Tail }> {
  const tail = new Tail();
  const child = spawn(binary, ['--listen', `127.0.0.1:${port}`, '--dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ferretDbEnv(process.env),
  });
  child.stdout?.on('data', (d: Buffer) => tail.push(d));
  child.stderr?.on('data', (d: Buffer) => tail.push(d));
  child.on('error', (e) => tail.push(`\nspawn error: ${e.message}\n`));
  // The server must not keep the parent alive; stop() or the exit hook ends it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  liveChildren.set(child, { dataDir });
  child.once('exit', () => liveChildren.delete(child));
  installExitHooks();
  try {
    await pingUntilReady(`mongodb://127.0.0.1:${port}/`, child, tail, Date.now() + readyTimeoutMs);
  } catch (e) {
    await terminate(child);
    throw e;
  }
  return { child, tail };
}

async function terminate(child: ChildProcess): Promise<void> {
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  if (!gone()) {
    // The child is unref'ed while running; while we wait for it to exit it must keep the loop alive.
    child.ref();
    const waitExit = (ms: number): Promise<boolean> =>
      new Promise((resolve) => {
        if (gone()) return resolve(true);
        const onExit = (): void => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(() => {
          child.removeListener('exit', onExit);
          resolve(false);
        }, ms);
        child.once('exit', onExit);
      });
    child.kill('SIGTERM');
    if (!(await waitExit(STOP_GRACE_MS))) {
      child.kill('SIGKILL');
      await waitExit(5000);
    }
  }
  liveChildren.delete(child);
}

/**
 * Starts FerretDB (building the binary if needed). Pass `port` and `dataDir` of a previous
 * handle stopped with `{ keepData: true }` to restart "the same" server mid-test.
 */
export async function startFerretDb(opts: StartFerretDbOptions = {}): Promise<FerretDbHandle> {
  const log = opts.log ?? defaultLog;
  const binary = await ensureFerretDbBinary(log);
  let dataDir = opts.dataDir;
  if (dataDir) {
    await mkdir(dataDir, { recursive: true });
  } else {
    dataDir = await mkdtemp(join(tmpdir(), 'taskrunner-ferretdb-'));
    ownedDataDirs.add(dataDir);
  }
  const readyTimeoutMs = opts.readyTimeoutMs ?? FERRETDB_READY_TIMEOUT_MS;

  let started: { child: ChildProcess; tail: Tail } | undefined;
  let port = opts.port ?? 0;
  let lastErr: unknown;
  // A port from the OS can be grabbed by someone else before FerretDB binds it: retry then.
  for (let attempt = 0; attempt < (opts.port ? 1 : 3) && !started; attempt++) {
    if (!opts.port) port = await getFreePort();
    try {
      started = await startFerretDbOnce(binary, port, dataDir, readyTimeoutMs);
    } catch (e) {
      lastErr = e;
      if (!/address already in use/i.test(e instanceof Error ? e.message : String(e))) break;
    }
  }
  if (!started) {
    if (!opts.dataDir) {
      ownedDataDirs.delete(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  const { child } = started;
  const finalDataDir = dataDir;
  let stopping: Promise<void> | undefined;
  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    port,
    dataDir: finalDataDir,
    binary,
    pid: child.pid,
    stop(stopOpts?: { keepData?: boolean }): Promise<void> {
      stopping ??= (async () => {
        await terminate(child);
        if (!stopOpts?.keepData) {
          ownedDataDirs.delete(finalDataDir);
          await rm(finalDataDir, { recursive: true, force: true });
        }
      })();
      return stopping;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Provisioning order
// ---------------------------------------------------------------------------------------------

/** One-line description of the server behind `uri` (buildInfo), or throws if it does not answer. */
async function describeServer(uri: string, timeoutMs: number): Promise<string> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs });
  try {
    const admin = client.db('admin');
    await admin.command({ ping: 1 });
    const info = await admin.command({ buildInfo: 1 }).catch(() => ({}) as Record<string, unknown>);
    if ('ferretdbVersion' in info) return `FerretDB ${String(info.ferretdbVersion)} (compat ${String(info.version)})`;
    return typeof info.version === 'string' ? `MongoDB ${info.version}` : 'unknown server';
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function tryMemoryServer(log: (line: string) => void): Promise<TestServer | undefined> {
  if (process.env.TASKRUNNER_BACKFILL_SKIP_MEMORY_SERVER === '1') {
    log('mongodb-memory-server skipped (TASKRUNNER_BACKFILL_SKIP_MEMORY_SERVER=1)');
    return undefined;
  }
  let mms: typeof import('mongodb-memory-server');
  try {
    mms = await import('mongodb-memory-server');
  } catch (e) {
    log(`mongodb-memory-server skipped: not installed (${errorMessage(e)})`);
    return undefined;
  }
  // Resolve (download) the binary first: MongoMemoryServer.create() prints a long stack to the
  // console when start fails, and a missing binary is the expected failure on offline machines.
  const attempt = (async () => {
    await mms.MongoBinary.getPath();
    return mms.MongoMemoryServer.create();
  })();
  try {
    const server = await withTimeout(attempt, MEMORY_SERVER_TIMEOUT_MS, 'mongodb-memory-server');
    const uri = server.getUri();
    let description = `mongodb-memory-server at ${uri}`;
    try {
      description = `${await describeServer(uri, 10_000)} via ${description}`;
    } catch {
      /* keep the plain description */
    }
    return { uri, kind: 'mongodb-memory-server', description, stop: async () => void (await server.stop()) };
  } catch (e) {
    // If the abandoned attempt ever succeeds, do not leak the mongod it started.
    attempt.then((s) => s.stop()).catch(() => undefined);
    log(`mongodb-memory-server skipped: ${errorMessage(e)}`);
    return undefined;
  }
}

export const NO_SERVER_HELP =
  'No MongoDB-compatible server is available for the tests. Provide one of:\n' +
  '  1. MONGODB_URI=mongodb://... pointing at a running MongoDB (or compatible) server;\n' +
  '  2. mongodb-memory-server able to get a mongod: internet access to fastdl.mongodb.org, or\n' +
  '     MONGOMS_SYSTEM_BINARY=/path/to/mongod (see mongodb-memory-server docs);\n' +
  '  3. Go >= 1.24 on PATH with access to the Go module proxy, so FerretDB ' +
  FERRETDB_VERSION +
  ' can be built\n' +
  '     from tools/ferretdb (or FERRETDB_BIN=/path/to/prebuilt/ferretdb-test-server).';

export async function startTestServer(opts: StartTestServerOptions = {}): Promise<TestServer> {
  const log = opts.log ?? defaultLog;

  // (a) An existing server.
  const envUri = process.env.MONGODB_URI;
  if (envUri) {
    const redacted = redactUri(envUri);
    let what: string;
    try {
      what = await describeServer(envUri, 15_000);
    } catch (e) {
      throw new Error(`MONGODB_URI is set (${redacted}) but the server did not answer ping: ${errorMessage(e)}`);
    }
    return { uri: envUri, kind: 'env', description: `${what} at ${redacted} (from MONGODB_URI)`, stop: async () => {} };
  }

  // (b) A real mongod via mongodb-memory-server.
  const memory = await tryMemoryServer(log);
  if (memory) return memory;

  // (c) FerretDB built from the Go module proxy.
  try {
    const f = await startFerretDb({ log });
    return {
      uri: f.uri,
      kind: 'ferretdb',
      description: `FerretDB ${FERRETDB_VERSION} (SQLite) at ${f.uri} [${f.binary}, data ${f.dataDir}]`,
      stop: () => f.stop(),
    };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    throw new Error(`${NO_SERVER_HELP}\nFerretDB attempt failed: ${detail}`);
  }
}
