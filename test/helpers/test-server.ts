/**
 * Provisioning of a real MongoDB-wire-protocol server for tests and dev scripts.
 *
 * One module, used by the vitest global setup (from TS source) and by
 * `test-server-cli` (compiled to dist/test/helpers). Order of preference:
 *   (a) MONGODB_URI                      – an existing server; never stopped by us
 *   (b) mongodb-memory-server            – real mongod (MONGOMS_SYSTEM_BINARY or its download);
 *                                          not tried when TEST_BACKEND names a FerretDB backend
 *   (c) FerretDB v1.24.2                 – built once from tools/ferretdb with Go, cached; on
 *                                          SQLite (default) or on a throwaway PostgreSQL cluster
 *                                          (TEST_BACKEND=postgresql)
 * FerretDB can also listen with TLS (startFerretDb({ tls })). Every child (FerretDB, postgres) is
 * stopped and its folder removed on stop() and when the parent exits, even by kill -9: FerretDB
 * watches its stdin (a pipe from us), postgres gets SIGQUIT from the kernel (setpriv --pdeathsig).
 * See /work/shared/notes/test-mongodb.md (shared notes) for why (c) exists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type MongoClientOptions } from 'mongodb';

export type TestServerKind = 'env' | 'mongodb-memory-server' | 'ferretdb';

/** FerretDB's storage handler. */
export type FerretDbBackend = 'sqlite' | 'postgresql';
export const FERRETDB_BACKENDS: readonly FerretDbBackend[] = ['sqlite', 'postgresql'];

export interface TestServer {
  /** Connection string without a database path (e.g. `mongodb://127.0.0.1:PORT/`). */
  uri: string;
  kind: TestServerKind;
  /** For kind 'ferretdb': its storage handler. */
  backend?: FerretDbBackend;
  /** Human-readable, credentials redacted: safe to print. */
  description: string;
  stop(): Promise<void>;
}

export interface StartTestServerOptions {
  log?: (line: string) => void;
  /** FerretDB backend; default: TEST_BACKEND (see `backendFromEnv`). */
  backend?: FerretDbBackend;
}

export const FERRETDB_VERSION = 'v1.24.2';
const BINARY_NAME = 'ferretdb-test-server';
const MEMORY_SERVER_TIMEOUT_MS = 30_000;
const FERRETDB_READY_TIMEOUT_MS = 60_000;
const FERRETDB_BUILD_TIMEOUT_MS = 20 * 60_000;
const POSTGRES_READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

const defaultLog = (line: string): void => {
  process.stderr.write(`[test-server] ${line}\n`);
};

/**
 * The FerretDB backend asked for by `TEST_BACKEND` (`sqlite` or `postgresql`), or undefined when
 * unset (then the usual order applies and FerretDB, if reached, runs on SQLite). Anything else
 * is an error, so a typo never silently tests the wrong backend.
 */
export function backendFromEnv(env: NodeJS.ProcessEnv = process.env): FerretDbBackend | undefined {
  const raw = env.TEST_BACKEND?.trim().toLowerCase();
  if (!raw) return undefined;
  if (raw === 'postgres' || raw === 'pg') return 'postgresql';
  if ((FERRETDB_BACKENDS as readonly string[]).includes(raw)) return raw as FerretDbBackend;
  throw new Error(`TEST_BACKEND=${env.TEST_BACKEND} is not a test backend: use sqlite or postgresql (or unset it)`);
}

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
    const code = (err as { code?: string | number }).code;
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
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; uid?: number; gid?: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string; spawnError?: Error }> {
  return new Promise((resolve) => {
    const tail = new Tail(6000);
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
        ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
      });
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
// Child-process bookkeeping: never leave a FerretDB or a postgres behind when the parent goes away
// ---------------------------------------------------------------------------------------------

type ChildKind = 'ferretdb' | 'postgres';
const liveChildren = new Map<ChildProcess, { kind: ChildKind; dataDir: string }>();
/** Data directories created by this module (removed on parent exit even if stop() never ran). */
const ownedDataDirs = new Set<string>();
let hooksInstalled = false;

function trackChild(child: ChildProcess, kind: ChildKind, dataDir: string): void {
  liveChildren.set(child, { kind, dataDir });
  child.once('exit', () => liveChildren.delete(child));
  installExitHooks();
}

/** True when `pid` no longer runs (gone, or a zombie nobody reaped yet). Linux /proc. */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return true;
  }
}

/** Blocks the thread for `ms` (only in the synchronous exit hook, where the loop is gone). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function killAllSync(): void {
  const children = [...liveChildren];
  // FerretDB first (it holds connections to postgres), then postgres by immediate shutdown
  // (SIGQUIT: it stops its own backends and removes its shared memory), SIGKILL as the fallback.
  for (const [child, { kind }] of children) {
    if (kind !== 'ferretdb') continue;
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const postgres = children.filter(([, v]) => v.kind === 'postgres').map(([c]) => c);
  for (const child of postgres) {
    try {
      child.kill('SIGQUIT');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 5000;
  for (const child of postgres) {
    while (child.pid !== undefined && !processGone(child.pid) && Date.now() < deadline) sleepSync(50);
    try {
      if (child.pid !== undefined && !processGone(child.pid)) child.kill('SIGKILL');
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

/** Lets the parent exit while `child` runs (stop() or the exit hook ends it). */
function unrefChild(child: ChildProcess): void {
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
}

/**
 * Sends `signals[0]`, waits `graceMs` for the exit, then each further signal with 5 s more.
 * Idempotent; resolves once the child is gone (or every signal was tried).
 */
async function terminate(child: ChildProcess, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGKILL'], graceMs = STOP_GRACE_MS): Promise<void> {
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
    for (const [i, signal] of signals.entries()) {
      child.kill(signal);
      if (await waitExit(i === 0 ? graceMs : 5000)) break;
    }
  }
  liveChildren.delete(child);
}

// ---------------------------------------------------------------------------------------------
// Temp folders: marked with their owner's pid, swept when the owner died without cleaning up
// ---------------------------------------------------------------------------------------------

const OWNER_FILE = '.taskrunner-test-server-owner';
const TEMP_PREFIXES = ['taskrunner-ferretdb-', 'taskrunner-postgres-'];
let swept = false;

/** A fresh temp folder owned by this process (removed by stop() or the exit hook). */
async function makeOwnedTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  ownedDataDirs.add(dir);
  await writeFile(join(dir, OWNER_FILE), `${process.pid}\n`);
  return dir;
}

/**
 * A parent killed with -9 cannot remove its folders (its FerretDB and postgres do stop: stdin EOF,
 * pdeathsig). Once per process, remove the temp folders whose marked owner no longer runs.
 * Folders without the marker (other tools, other versions of this module) are never touched.
 */
async function sweepStaleTempDirs(log: (line: string) => void): Promise<void> {
  if (swept) return;
  swept = true;
  await removeStaleTempDirs(log);
}

/** Removes now the temp folders whose marked owner process no longer runs; returns them. */
export async function removeStaleTempDirs(log: (line: string) => void = defaultLog): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(tmpdir());
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!TEMP_PREFIXES.some((p) => name.startsWith(p))) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number((await readFile(join(dir, OWNER_FILE), 'utf8')).trim());
    } catch {
      continue;
    }
    if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || !processGone(owner)) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    log(`removed ${dir}, left behind by process ${owner} (no longer running)`);
    removed.push(dir);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// FerretDB binary
// ---------------------------------------------------------------------------------------------

/**
 * The cache folder's name carries a hash of the Go main module (main.go, go.mod, go.sum), so a
 * binary built from another version of tools/ferretdb is never reused.
 */
export function ferretDbSourceHash(): string {
  const srcDir = join(findRepoRoot(), 'tools', 'ferretdb');
  const hash = createHash('sha256');
  for (const name of ['main.go', 'go.mod', 'go.sum']) {
    hash.update(`${name}\0`);
    try {
      hash.update(readFileSync(join(srcDir, name)));
    } catch {
      hash.update('(missing)');
    }
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

export function ferretDbBinaryPath(): string {
  const override = process.env.FERRETDB_BIN;
  if (override) return override;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'taskrunner-backfill', `ferretdb-${FERRETDB_VERSION}-${ferretDbSourceHash()}`, BINARY_NAME);
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
// PostgreSQL: a throwaway cluster for FerretDB's postgresql handler
// ---------------------------------------------------------------------------------------------

export const POSTGRES_MISSING_HELP =
  'PostgreSQL server binaries (initdb, postgres) were not found. Install them with Debian\'s ' +
  '`postgresql` package (apt-get install postgresql; it puts them in /usr/lib/postgresql/VERSION/bin), ' +
  'or set PG_BIN=/path/to/postgresql/bin.';

/**
 * The folder holding `initdb` and `postgres`: PG_BIN, else the newest /usr/lib/postgresql/N/bin
 * (Debian does not put them on PATH), else `pg_config --bindir`, else PATH.
 */
export async function findPostgresBinDir(): Promise<string> {
  const has = async (dir: string): Promise<boolean> =>
    (await isExecutableFile(join(dir, 'initdb'))) && (await isExecutableFile(join(dir, 'postgres')));
  const candidates: string[] = [];
  if (process.env.PG_BIN) {
    if (await has(process.env.PG_BIN)) return process.env.PG_BIN;
    throw new Error(`PG_BIN=${process.env.PG_BIN} holds no initdb and postgres. ${POSTGRES_MISSING_HELP}`);
  }
  try {
    const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+(\.\d+)?$/.test(v));
    versions.sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join('/usr/lib/postgresql', v, 'bin')));
  } catch {
    /* not Debian's layout */
  }
  const pgConfig = await runCommand('pg_config', ['--bindir'], { timeoutMs: 10_000 });
  if (!pgConfig.spawnError && pgConfig.code === 0) candidates.push(pgConfig.output.trim());
  candidates.push(...(process.env.PATH ?? '').split(':').filter(Boolean));
  for (const dir of candidates) if (await has(dir)) return dir;
  throw new Error(POSTGRES_MISSING_HELP);
}

interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. As root, the cluster runs as the `postgres` OS user
 * (PG_OS_USER to choose another), which Debian's postgresql package creates; as anyone else it
 * runs as the current user.
 */
async function postgresOsUser(): Promise<OsUser | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const name = process.env.PG_OS_USER || 'postgres';
  const uid = await runCommand('id', ['-u', name], { timeoutMs: 10_000 });
  const gid = await runCommand('id', ['-g', name], { timeoutMs: 10_000 });
  if (uid.code !== 0 || gid.code !== 0) {
    throw new Error(
      `running as root, PostgreSQL must run as another OS user, and user "${name}" does not exist ` +
        `(Debian's postgresql package creates "postgres"; or set PG_OS_USER, or run the tests as a non-root user)`,
    );
  }
  return { name, uid: Number(uid.output.trim()), gid: Number(gid.output.trim()) };
}

let setprivAvailable: Promise<boolean> | undefined;
/** util-linux's setpriv (essential on Debian); without it, spawn's uid/gid and the exit hooks do. */
function hasSetpriv(): Promise<boolean> {
  setprivAvailable ??= runCommand('setpriv', ['--version'], { timeoutMs: 10_000 }).then((r) => !r.spawnError && r.code === 0);
  return setprivAvailable;
}

/**
 * `cmd args` as `user` when given, with a parent-death signal when asked. setpriv execs, so the
 * pid is the command's own (runuser/su would sit in between and swallow a SIGKILL).
 */
async function asUser(
  user: OsUser | undefined,
  cmd: string,
  args: string[],
  pdeathsig?: NodeJS.Signals,
): Promise<{ cmd: string; args: string[]; spawnOpts: { uid?: number; gid?: number } }> {
  if (!(await hasSetpriv())) return { cmd, args, spawnOpts: user ? { uid: user.uid, gid: user.gid } : {} };
  const setprivArgs: string[] = [];
  if (pdeathsig) setprivArgs.push('--pdeathsig', pdeathsig);
  if (user) setprivArgs.push('--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups');
  if (setprivArgs.length === 0) return { cmd, args, spawnOpts: {} };
  return { cmd: 'setpriv', args: [...setprivArgs, '--', cmd, ...args], spawnOpts: {} };
}

export interface PostgresHandle {
  /** Loopback TCP port. */
  port: number;
  /** The cluster's folder (PGDATA; also holds its Unix socket). */
  clusterDir: string;
  /** The database FerretDB uses. */
  database: string;
  /** `postgres://postgres@127.0.0.1:PORT/DATABASE?sslmode=disable` (trust authentication). */
  url: string;
  /** e.g. `PostgreSQL 15.14`. */
  version: string;
  pid: number | undefined;
  /** Fast shutdown (SIGINT), then SIGQUIT, SIGKILL; removes the temp folder it made unless `keepData`. Idempotent. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartPostgresOptions {
  /** Existing cluster (restart on the same data) or new folder; default: a fresh temp folder. */
  clusterDir?: string;
  database?: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

class PortInUseError extends Error {}

async function startPostgresOnce(
  bin: string,
  user: OsUser | undefined,
  clusterDir: string,
  port: number,
  readyTimeoutMs: number,
): Promise<{ child: ChildProcess; tail: Tail }> {
  const tail = new Tail();
  const settings = [
    `listen_addresses=127.0.0.1`,
    `unix_socket_directories=${clusterDir}`,
    // A throwaway test cluster: its data is never kept, so durability is off.
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    'max_connections=200',
  ];
  const { cmd, args, spawnOpts } = await asUser(
    user,
    join(bin, 'postgres'),
    ['-D', clusterDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])],
    // The kernel sends SIGQUIT (immediate shutdown) when the parent thread dies, even by kill -9.
    'SIGQUIT',
  );
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, ...spawnOpts });
  let ready = false;
  const readyWaiters: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    tail.push(d);
    if (!ready && /ready to accept connections/.test(tail.toString())) {
      ready = true;
      for (const w of readyWaiters.splice(0)) w();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.on('error', (e) => tail.push(`\nspawn error: ${e.message}\n`));
  unrefChild(child);
  trackChild(child, 'postgres', clusterDir);
  const outcome = await new Promise<'ready' | 'exit' | 'timeout'>((resolve) => {
    if (ready) return resolve('ready');
    const timer = setTimeout(() => resolve('timeout'), readyTimeoutMs);
    readyWaiters.push(() => {
      clearTimeout(timer);
      resolve('ready');
    });
    child.once('exit', () => {
      clearTimeout(timer);
      // The readiness line may arrive with the last output chunk.
      setImmediate(() => resolve(ready ? 'ready' : 'exit'));
    });
  });
  if (outcome === 'ready' && child.exitCode === null) return { child, tail };
  await terminate(child, ['SIGQUIT', 'SIGKILL'], 5000);
  const text = tail.toString();
  if (/address already in use/i.test(text)) throw new PortInUseError(`port ${port} is already in use: ${text.slice(-500)}`);
  throw new Error(
    outcome === 'timeout'
      ? `PostgreSQL did not become ready in ${readyTimeoutMs / 1000}s; output tail:\n${text}`
      : `PostgreSQL exited (${child.exitCode ?? child.signalCode}) at start; output tail:\n${text}`,
  );
}

/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port (initdb first unless `clusterDir`
 * already holds one) and creates `database`. Trust authentication on loopback, durability off.
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const log = opts.log ?? defaultLog;
  const bin = await findPostgresBinDir();
  const user = await postgresOsUser();
  const database = opts.database ?? 'ferretdb';
  // initdb wants an empty folder: an owned temp folder holds the cluster in data/.
  const base = opts.clusterDir ? undefined : (await sweepStaleTempDirs(log), await makeOwnedTempDir('taskrunner-postgres-'));
  const dir = opts.clusterDir ?? join(base ?? '', 'data');
  const cleanUp = async (): Promise<void> => {
    if (base) {
      ownedDataDirs.delete(base);
      await rm(base, { recursive: true, force: true });
    }
  };
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fresh = !existsSync(join(dir, 'PG_VERSION'));
    if (user) {
      await chown(dir, user.uid, user.gid);
      await chmod(dir, 0o700);
      // The postgres user must be able to reach the folder: make its parent (a temp folder of
      // ours, mode 0700) traversable by others, not readable.
      const parent = await stat(dirname(dir));
      if ((parent.mode & 0o001) === 0) await chmod(dirname(dir), (parent.mode & 0o7777) | 0o011);
    }
    if (fresh) {
      const started = Date.now();
      const { cmd, args, spawnOpts } = await asUser(user, join(bin, 'initdb'), ['-D', dir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
      const res = await runCommand(cmd, args, { timeoutMs: 120_000, env: { ...process.env, LC_ALL: 'C' }, ...spawnOpts });
      if (res.spawnError || res.code !== 0) {
        throw new Error(
          `initdb failed${user ? ` (as OS user ${user.name})` : ''}: ${res.spawnError ? errorMessage(res.spawnError) : res.output}`,
        );
      }
      log(`initdb ${dir} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    }

    // A free port can be taken by someone else before postgres binds it: retry with another.
    let started: { child: ChildProcess; tail: Tail } | undefined;
    let port = 0;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3 && !started; attempt++) {
      port = await getFreePort();
      try {
        started = await startPostgresOnce(bin, user, dir, port, opts.readyTimeoutMs ?? POSTGRES_READY_TIMEOUT_MS);
      } catch (e) {
        lastErr = e;
        if (!(e instanceof PortInUseError)) break;
        log(`postgres: ${errorMessage(e, 120)}; retrying on another port`);
      }
    }
    if (!started) throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
    const { child } = started;
    const stopCluster = async (keepData: boolean): Promise<void> => {
      await terminate(child, ['SIGINT', 'SIGQUIT', 'SIGKILL'], STOP_GRACE_MS);
      if (!keepData) await cleanUp();
    };

    try {
      const psql = (sql: string, db = 'postgres'): ReturnType<typeof runCommand> =>
        runCommand(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
          timeoutMs: 60_000,
          env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
        });
      const exists = await psql(`SELECT 1 FROM pg_database WHERE datname = '${database.replace(/'/g, "''")}'`);
      if (exists.code !== 0) throw new Error(`psql could not query the new cluster: ${exists.output}`);
      if (exists.output.trim() !== '1') {
        const created = await psql(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
        if (created.code !== 0) throw new Error(`CREATE DATABASE ${database} failed: ${created.output}`);
      }
      const version = (await psql('SHOW server_version')).output.trim().split(/\s/)[0] ?? '?';
      let stopping: Promise<void> | undefined;
      return {
        port,
        clusterDir: dir,
        database,
        url: `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}?sslmode=disable`,
        version: `PostgreSQL ${version}`,
        pid: child.pid,
        stop(stopOpts?: { keepData?: boolean }): Promise<void> {
          stopping ??= stopCluster(stopOpts?.keepData ?? false);
          return stopping;
        },
      };
    } catch (e) {
      await stopCluster(false);
      throw e;
    }
  } catch (e) {
    await cleanUp();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// FerretDB process
// ---------------------------------------------------------------------------------------------

export interface FerretDbTlsOptions {
  /** Server certificate (PEM). Its subjectAltName must cover 127.0.0.1 for clients to accept it. */
  certFile: string;
  keyFile: string;
  /** CA for client certificates: when set, FerretDB requires and verifies one on every connection. */
  caFile?: string;
}

export interface FerretDbHandle {
  /** Plain TCP (always on; with TLS it is the control connection). */
  uri: string;
  port: number;
  /** With `tls`: `mongodb://127.0.0.1:TLSPORT/?tls=true` (add tlsCAFile/tlsCertificateKeyFile). */
  tlsUri?: string;
  tlsPort?: number;
  backend: FerretDbBackend;
  /** With the postgresql backend: its cluster (inside dataDir, stopped with the handle). */
  postgres?: PostgresHandle;
  /** Human-readable: version, backend, address. */
  description: string;
  dataDir: string;
  binary: string;
  pid: number | undefined;
  /** SIGTERM, wait, SIGKILL fallback; removes dataDir unless `keepData`. Idempotent. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export interface StartFerretDbOptions {
  /** Fixed port (e.g. to restart on the same port); default: a free one from the OS. */
  port?: number;
  /**
   * Existing or new data directory (e.g. to restart on the same data); default: fresh temp dir.
   * On postgresql the cluster lives in `dataDir/postgresql` and is stopped and started with FerretDB.
   */
  dataDir?: string;
  /** Default: TEST_BACKEND, else sqlite. */
  backend?: FerretDbBackend;
  /** Also listen with TLS on another free loopback port. */
  tls?: FerretDbTlsOptions;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

class AddressInUseError extends Error {
  constructor(message: string) {
    super(`${message}: address already in use`);
    this.name = 'AddressInUseError';
  }
}

async function pingUntilReady(uri: string, child: ChildProcess, tail: Tail, deadlineMs: number, clientOpts: MongoClientOptions = {}): Promise<void> {
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
      ...clientOpts,
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
  storageArgs: string[],
  tls: { port: number; opts: FerretDbTlsOptions } | undefined,
  dataDir: string,
  readyTimeoutMs: number,
): Promise<{ child: ChildProcess; tail: Tail }> {
  const tail = new Tail();
  const args = ['--listen', `127.0.0.1:${port}`, ...storageArgs, '--exit-on-stdin-eof'];
  if (tls) {
    args.push('--tls-listen', `127.0.0.1:${tls.port}`, '--tls-cert', tls.opts.certFile, '--tls-key', tls.opts.keyFile);
    if (tls.opts.caFile) args.push('--tls-ca', tls.opts.caFile);
  }
  // stdin is a pipe we never write: when this process dies (even kill -9) FerretDB sees EOF and stops.
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'], env: ferretDbEnv(process.env) });
  child.stdout?.on('data', (d: Buffer) => tail.push(d));
  child.stderr?.on('data', (d: Buffer) => tail.push(d));
  child.stdin?.on('error', () => undefined); // EPIPE when it exits first
  child.on('error', (e) => tail.push(`\nspawn error: ${e.message}\n`));
  // The server must not keep the parent alive; stop() or the exit hook ends it.
  unrefChild(child);
  trackChild(child, 'ferretdb', dataDir);
  try {
    await pingUntilReady(`mongodb://127.0.0.1:${port}/`, child, tail, Date.now() + readyTimeoutMs);
  } catch (e) {
    await terminate(child);
    throw e;
  }
  return { child, tail };
}

/**
 * Starts FerretDB (building the binary if needed), on SQLite or on a throwaway PostgreSQL
 * cluster, optionally with a TLS listener. Pass `port` and `dataDir` of a previous handle stopped
 * with `{ keepData: true }` to restart "the same" server mid-test (same backend).
 */
export async function startFerretDb(opts: StartFerretDbOptions = {}): Promise<FerretDbHandle> {
  const log = opts.log ?? defaultLog;
  const backend = opts.backend ?? backendFromEnv() ?? 'sqlite';
  const binary = await ensureFerretDbBinary(log);
  let dataDir = opts.dataDir;
  if (dataDir) {
    await mkdir(dataDir, { recursive: true });
  } else {
    await sweepStaleTempDirs(log);
    dataDir = await makeOwnedTempDir('taskrunner-ferretdb-');
  }
  const finalDataDir = dataDir;
  const removeDataDir = async (): Promise<void> => {
    ownedDataDirs.delete(finalDataDir);
    await rm(finalDataDir, { recursive: true, force: true });
  };
  const readyTimeoutMs = opts.readyTimeoutMs ?? FERRETDB_READY_TIMEOUT_MS;

  let postgres: PostgresHandle | undefined;
  let storageArgs: string[];
  if (backend === 'postgresql') {
    try {
      postgres = await startPostgres({ clusterDir: join(finalDataDir, 'postgresql'), log });
    } catch (e) {
      if (!opts.dataDir) await removeDataDir();
      throw e;
    }
    storageArgs = ['--handler', 'postgresql', '--postgresql-url', postgres.url];
  } else {
    storageArgs = ['--handler', 'sqlite', '--dir', finalDataDir];
  }

  let started: { child: ChildProcess; tail: Tail } | undefined;
  let port = opts.port ?? 0;
  let tlsPort = 0;
  let lastErr: unknown;
  // A port from the OS can be grabbed by someone else before FerretDB binds it: retry then.
  for (let attempt = 0; attempt < (opts.port ? 1 : 3) && !started; attempt++) {
    if (!opts.port) port = await getFreePort();
    if (opts.tls) {
      do tlsPort = await getFreePort();
      while (tlsPort === port);
    }
    try {
      started = await startFerretDbOnce(binary, port, storageArgs, opts.tls ? { port: tlsPort, opts: opts.tls } : undefined, finalDataDir, readyTimeoutMs);
    } catch (e) {
      lastErr = e;
      if (!/address already in use/i.test(e instanceof Error ? e.message : String(e))) break;
    }
  }
  if (!started) {
    await postgres?.stop({ keepData: Boolean(opts.dataDir) });
    if (!opts.dataDir) await removeDataDir();
    throw lastErr instanceof Error ? lastErr : new Error(String(lastErr));
  }

  const { child } = started;
  const uri = `mongodb://127.0.0.1:${port}/`;
  const tlsUri = opts.tls ? `mongodb://127.0.0.1:${tlsPort}/?tls=true` : undefined;
  const storage = postgres ? `PostgreSQL (${postgres.version}, port ${postgres.port})` : 'SQLite';
  let stopping: Promise<void> | undefined;
  return {
    uri,
    port,
    ...(tlsUri ? { tlsUri, tlsPort } : {}),
    backend,
    ...(postgres ? { postgres } : {}),
    description: `FerretDB ${FERRETDB_VERSION} on ${storage} at ${uri}${tlsUri ? ` and TLS at ${tlsUri}` : ''}`,
    dataDir: finalDataDir,
    binary,
    pid: child.pid,
    stop(stopOpts?: { keepData?: boolean }): Promise<void> {
      stopping ??= (async () => {
        await terminate(child);
        await postgres?.stop({ keepData: true });
        if (!stopOpts?.keepData) await removeDataDir();
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
    const info: Record<string, unknown> = await admin.command({ buildInfo: 1 }).catch(() => ({}));
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
  '     from tools/ferretdb (or FERRETDB_BIN=/path/to/prebuilt/ferretdb-test-server);\n' +
  '     with TEST_BACKEND=postgresql also the PostgreSQL server binaries (Debian package postgresql).';

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
      throw new Error(`MONGODB_URI is set (${redacted}) but the server did not answer ping: ${errorMessage(e)}`, { cause: e });
    }
    if (process.env.TEST_BACKEND) log(`TEST_BACKEND=${process.env.TEST_BACKEND} ignored: MONGODB_URI is set and wins`);
    return { uri: envUri, kind: 'env', description: `${what} at ${redacted} (from MONGODB_URI)`, stop: async () => {} };
  }

  // (b) A real mongod via mongodb-memory-server, unless a FerretDB backend was asked for.
  const asked = opts.backend ?? backendFromEnv();
  if (asked) {
    log(`TEST_BACKEND=${asked}: FerretDB on ${asked} (mongodb-memory-server not tried)`);
  } else {
    const memory = await tryMemoryServer(log);
    if (memory) return memory;
  }

  // (c) FerretDB built from the Go module proxy, on SQLite or a throwaway PostgreSQL cluster.
  const backend = asked ?? 'sqlite';
  try {
    const f = await startFerretDb({ log, backend });
    return {
      uri: f.uri,
      kind: 'ferretdb',
      backend,
      description: `${f.description} [${f.binary}, data ${f.dataDir}]`,
      stop: () => f.stop(),
    };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    // A missing PostgreSQL is its own, precise problem: do not bury it under the generic help.
    if (backend === 'postgresql' && detail.includes(POSTGRES_MISSING_HELP)) throw new Error(`TEST_BACKEND=postgresql: ${detail}`, { cause: e });
    throw new Error(`${NO_SERVER_HELP}\nFerretDB (${backend}) attempt failed: ${detail}`, { cause: e });
  }
}
