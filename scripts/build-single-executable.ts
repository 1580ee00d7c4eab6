/**
 * `npm run package`: the single executable for hosts without Node.js (Node's single executable
 * applications, Node 20), with its SHA256SUMS.
 *
 *   1. esbuild bundles dist/src/cli/main.js (what the npm package runs) and every worker entry
 *      (src/runtime/worker-entries.ts) into one CommonJS file each: SEA's main script must be
 *      CommonJS in Node 20 and may `require` built-in modules only.
 *   2. `node --experimental-sea-config` makes the preparation blob: the main bundle (with V8's code
 *      cache, for start-up time) and the worker bundles as assets (`node:sea` getAsset).
 *   3. A copy of this Node binary, stripped of its debug symbols (when `strip` exists), gets the
 *      blob injected with postject.
 *   4. The result is run once (`--version`, `self-check`), then SHA256SUMS is written beside it.
 *
 * Usage: node dist/scripts/build-single-executable.js [--out-dir release] [--no-strip]
 * Writes OUT/taskrunner-backfill-<platform>-<arch>, OUT/SHA256SUMS and OUT/build/ (the bundles,
 * the blob, the SEA config: kept to inspect; not needed to run).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { inject } from 'postject';
import { WORKER_ENTRIES, workerBundlePath, type WorkerEntry } from '../src/runtime/worker-entries.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Node's documented fuse for SEA blobs (the same in every Node version that has SEA). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * The MongoDB driver's optional modules (peer dependencies it `require`s inside try/catch, or not
 * at all unless a feature needs them). None is installed, so none can be bundled; each becomes a
 * module that throws, which the driver turns into its MongoMissingDependencyError when (and only
 * when) the feature is used, and `connect` explains that the single executable lacks it. Not left
 * `external`: the executable's `require` would then fail with "No such built-in module", and a
 * bundle run by `node` would pick up whatever happened to be installed beside it.
 */
const OPTIONAL_DRIVER_MODULES: Readonly<Record<string, string>> = {
  kerberos: 'Kerberos (GSSAPI) authentication',
  snappy: 'snappy network compression',
  '@mongodb-js/zstd': 'zstd network compression',
  'mongodb-client-encryption': 'client-side field level encryption',
  '@aws-sdk/credential-providers': 'MONGODB-AWS authentication',
  'gcp-metadata': 'MONGODB-OIDC authentication on Google Cloud',
  socks: 'connections through a SOCKS5 proxy',
};

/**
 * pino's worker-thread transports (thread-stream) load their worker from a file path, which does
 * not exist in a bundle. The tool writes its logs through a destination, never a transport. pino
 * requires thread-stream when it loads, so the stub loads fine and throws only if a transport is
 * ever started: nothing can start one unnoticed.
 */
const THREAD_STREAM_STUB = `module.exports = class ThreadStream {
  constructor() {
    throw new Error('pino transports (worker-thread log targets) are not used by taskrunner-backfill and cannot run from the single-file bundle');
  }
};`;

/** Replaces the modules above by stubs. */
const stubModules: Plugin = {
  name: 'taskrunner-backfill-stubs',
  setup(builder) {
    const names = [...Object.keys(OPTIONAL_DRIVER_MODULES), 'thread-stream'];
    const filter = new RegExp(`^(${names.map((name) => name.replace(/[/.@-]/g, '\\$&')).join('|')})$`);
    builder.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'stub' }));
    builder.onLoad({ filter: /.*/, namespace: 'stub' }, (args) => {
      const feature = OPTIONAL_DRIVER_MODULES[args.path];
      if (!feature) return { contents: THREAD_STREAM_STUB, loader: 'js' };
      const message = `${args.path} (needed for ${feature}) is not part of the taskrunner-backfill single executable; use the npm package with ${args.path} installed beside it`;
      return { contents: `throw Object.assign(new Error(${JSON.stringify(message)}), { code: 'MODULE_NOT_FOUND' });`, loader: 'js' };
    });
  },
};

interface Step {
  name: string;
  ms: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: 'release' }, 'no-strip': { type: 'boolean', default: false } } });
  const outDir = path.resolve(values['out-dir']);
  const buildDir = path.join(outDir, 'build');
  const steps: Step[] = [];
  const timed = async <T>(name: string, work: () => Promise<T> | T): Promise<T> => {
    const started = performance.now();
    const result = await work();
    steps.push({ name, ms: Math.round(performance.now() - started) });
    log(`${name}: ${Math.round(performance.now() - started)} ms`);
    return result;
  };

  const [major = 0] = process.versions.node.split('.').map(Number);
  if (major < 20) throw new Error(`Node.js ${process.version} cannot build a single executable with assets (needs 20.12 or later)`);
  const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  const executableName = `${pkg.name}-${process.platform}-${process.arch}${process.platform === 'win32' ? '.exe' : ''}`;
  const executable = path.join(outDir, executableName);
  const mainEntry = path.join(repoRoot, 'dist/src/cli/main.js');
  await stat(mainEntry).catch(() => {
    throw new Error(`${mainEntry} is missing: run "npm run build" first (npm run package does)`);
  });

  await rm(buildDir, { recursive: true, force: true });
  await mkdir(buildDir, { recursive: true });

  // 1. Bundles.
  const entries = Object.keys(WORKER_ENTRIES) as WorkerEntry[];
  const bundle = await timed('esbuild bundle', () =>
    build({
      entryPoints: {
        [pkg.name]: mainEntry,
        ...Object.fromEntries(entries.map((entry) => [workerBundlePath(entry).replace(/\.cjs$/, ''), path.join(repoRoot, `dist/src/${WORKER_ENTRIES[entry]}.js`)])),
      },
      outdir: buildDir,
      outExtension: { '.js': '.cjs' },
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      // ESM builds first: jsonc-parser's `main` is a UMD file whose requires a bundler cannot follow.
      mainFields: ['module', 'main'],
      define: {
        TASKRUNNER_BACKFILL_BUNDLE: JSON.stringify({ version: pkg.version }),
        // ES modules (ours, yargs) use import.meta.url; CommonJS has none. The banner supplies it.
        'import.meta.url': '__taskrunner_backfill_import_meta_url',
      },
      banner: { js: 'var __taskrunner_backfill_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
      // `import()` becomes `require()`. Inside the executable, with the code cache, Node 20 has no
      // dynamic import at all ("A dynamic import callback was not specified"): the driver's
      // `await import('os')` would fail, and with it every handshake's client metadata (silently)
      // and GSSAPI authentication (with that message).
      supported: { 'dynamic-import': false },
      plugins: [stubModules],
      legalComments: 'eof',
      metafile: true,
      logLevel: 'silent',
    }),
  );
  if (bundle.errors.length > 0 || bundle.warnings.length > 0) {
    throw new Error(`esbuild reported problems:\n${[...bundle.errors, ...bundle.warnings].map((message) => `${message.location?.file ?? ''}:${message.location?.line ?? ''} ${message.text}`).join('\n')}`);
  }
  const dynamicImports = Object.entries(bundle.metafile.outputs).flatMap(([file, output]) =>
    output.imports.filter((imported) => imported.kind === 'dynamic-import').map((imported) => `${file}: import(${JSON.stringify(imported.path)})`),
  );
  if (dynamicImports.length > 0) throw new Error(`the bundle still holds dynamic imports, which the single executable cannot run:\n${dynamicImports.join('\n')}`);
  const mainBundle = path.join(buildDir, `${pkg.name}.cjs`);
  await writeFile(path.join(buildDir, 'metafile.json'), JSON.stringify(bundle.metafile));

  // 2. The preparation blob.
  const blob = path.join(buildDir, 'sea-prep.blob');
  const seaConfig = {
    main: mainBundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    useSnapshot: false,
    assets: Object.fromEntries(entries.map((entry) => [workerBundlePath(entry), path.join(buildDir, workerBundlePath(entry))])),
  };
  const seaConfigPath = path.join(buildDir, 'sea-config.json');
  await writeFile(seaConfigPath, `${JSON.stringify(seaConfig, null, 2)}\n`);
  await timed('sea blob', () => run(process.execPath, ['--experimental-sea-config', seaConfigPath]));

  // 3. A copy of this node, stripped, with the blob injected.
  const partial = `${executable}.partial`;
  await rm(partial, { force: true });
  await copyFile(process.execPath, partial);
  await chmod(partial, 0o755);
  if (values['no-strip']) {
    log('strip: skipped (--no-strip)');
  } else if (process.platform === 'linux' && spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0) {
    await timed('strip', () => run('strip', [partial]));
  } else {
    log('strip: not found; the executable keeps Node\'s debug symbols (about 12 MB more)');
  }
  await timed('postject', async () => inject(partial, 'NODE_SEA_BLOB', await readFile(blob), { sentinelFuse: SEA_FUSE }));
  await rename(partial, executable);

  // 4. It runs, and says its version; then the checksum.
  const version = run(executable, ['--version']).trim();
  if (version !== pkg.version) throw new Error(`${executable} --version printed "${version}", not ${pkg.version}`);
  const sha256 = createHash('sha256').update(await readFile(executable)).digest('hex');
  await writeFile(path.join(outDir, 'SHA256SUMS'), `${sha256}  ${executableName}\n`);

  const size = (await stat(executable)).size;
  const bundleSize = (await stat(mainBundle)).size;
  log(`wrote ${executable} (${(size / 1e6).toFixed(1)} MB; bundle ${(bundleSize / 1e6).toFixed(2)} MB; Node ${process.version}) and SHA256SUMS`);
  process.stdout.write(`${JSON.stringify({ executable, sha256, bytes: size, bundleBytes: bundleSize, node: process.version, steps })}\n`);
}

/** Runs a program to completion; throws with its output when it fails. */
function run(file: string, args: readonly string[]): string {
  const result = spawnSync(file, [...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed (exit ${result.status}, signal ${result.signal}): ${result.error?.message ?? ''}\n${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

function log(line: string): void {
  process.stderr.write(`[package] ${line}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[package] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
