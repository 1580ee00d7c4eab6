import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import * as sea from 'node:sea';
import { BUNDLE } from './installation.js';
import { workerBundlePath, workerModule, type WorkerEntry } from './worker-entries.js';

/** How a worker's code is found in this installation. */
export type WorkerSource =
  /** npm package or repository: the compiled ES module under dist/src/ (see WORKER_ENTRIES). */
  | { kind: 'module'; url: URL }
  /** Single-file bundle: the worker's own CommonJS bundle as text, from the single executable or from beside the bundle. */
  | { kind: 'bundled'; code: string; from: 'single-executable' | 'file' };

/**
 * Starts the worker thread `entry` (see worker-entries.ts) in whatever form this tool was installed:
 *
 * - Under Node.js (dist/, the npm package): `new Worker(file URL)` of the compiled module.
 * - Inside the single executable: there is no file to point at. `new Worker(process.execPath)`
 *   would start a second copy of the whole CLI, not the worker, and the executable's `require`
 *   loads built-in modules only. So the worker's own bundle travels inside the executable as an
 *   asset (Node 20's `node:sea` `getAsset`) and runs with `eval: true`: CommonJS with every
 *   dependency bundled in, needing only built-in modules.
 * - From the bundle run by a plain `node` (how the bundle is checked before it is injected): the
 *   same bundled text, read from beside the bundle.
 *
 * `options` are passed on (workerData, transferList, resourceLimits, env, stdout/stderr, ...).
 * `source` is looked up when not given (a caller that already has it saves reading it twice).
 */
export function startWorker(entry: WorkerEntry, options: Omit<WorkerOptions, 'eval'> = {}, source: WorkerSource = workerSource(entry)): Worker {
  return source.kind === 'module' ? new Worker(source.url, options) : new Worker(source.code, { ...options, eval: true });
}

/** Where `entry`'s code comes from here (exported for `self-check`, which says so). */
export function workerSource(entry: WorkerEntry): WorkerSource {
  if (!BUNDLE) return { kind: 'module', url: compiledModule(new URL(`../${workerModule(entry)}.js`, import.meta.url)) };
  const bundled = workerBundlePath(entry);
  if (sea.isSea()) return { kind: 'bundled', code: sea.getAsset(bundled, 'utf8'), from: 'single-executable' };
  // In the bundle, import.meta.url is the bundle file's own URL (the bundler's banner sets it).
  return { kind: 'bundled', code: readFileSync(fileURLToPath(new URL(`./${bundled}`, import.meta.url)), 'utf8'), from: 'file' };
}

/**
 * The worker's compiled module. Run from the TypeScript sources (the tests import src/ through
 * vitest, which cannot reach into a worker thread), src/X.js does not exist: the compiled twin
 * dist/src/X.js of the same checkout is used (`npm test` builds first).
 */
function compiledModule(url: URL): URL {
  if (existsSync(url)) return url;
  const twin = new URL(url.href.replace(/\/src\/(?=[^/]+\/workers\/)/, '/dist/src/'));
  return existsSync(twin) ? twin : url;
}
