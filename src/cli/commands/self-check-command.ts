import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';
import { partitionOf } from '../../domain/partition.js';
import { BUNDLE, isSingleExecutable } from '../../runtime/installation.js';
import { startWorker, workerSource } from '../../runtime/start-worker.js';
import type { SelfCheckReply, SelfCheckRequest } from '../../runtime/workers/self-check-worker.js';
import { TOOL_VERSION } from '../../tool-version.js';
import type { CliIo } from '../cli-io.js';
import { selfCheckExitCode } from '../exit-codes.js';

export interface SelfCheckArgs {
  json: boolean;
}

/** How long the worker may take to start and answer (a cold start on a busy host takes well under a second). */
const WORKER_TIMEOUT_MS = 30_000;

/** What `self-check` found. */
export interface SelfCheckReport {
  command: 'self-check';
  ok: boolean;
  toolVersion: string;
  node: string;
  platform: string;
  arch: string;
  /** How this copy was installed: `single-executable`, `bundle` (the bundle run by node) or `node` (npm package, repository). */
  runtime: 'single-executable' | 'bundle' | 'node';
  /** `from`: where the worker's code was taken from (the module file, or the bundled text and where it was). */
  worker: { entry: 'self-check'; ok: boolean; ms: number; from?: string; threadId?: number; error?: string };
}

export function selfCheckOptions<T>(yargs: Argv<T>) {
  return yargs.option('json', { type: 'boolean', default: false, describe: 'Print one JSON object on stdout' });
}

/**
 * `self-check`: what this installation is (version, Node.js, single executable or not) and whether
 * it can start its worker threads; touches no database and no source tree. Run it after carrying
 * the single executable onto a host. Exit 0 when the check passes, 1 otherwise.
 */
export async function selfCheckCommand(args: SelfCheckArgs, io: CliIo): Promise<number> {
  const runtime: SelfCheckReport['runtime'] = isSingleExecutable() ? 'single-executable' : BUNDLE ? 'bundle' : 'node';
  const worker = await checkWorker();
  const report: SelfCheckReport = {
    command: 'self-check',
    ok: worker.ok,
    toolVersion: TOOL_VERSION,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    runtime,
    worker,
  };
  io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : renderSelfCheck(report));
  return selfCheckExitCode(report);
}

/** Starts the self-check worker, sends it a question the main thread can answer too, and compares. */
async function checkWorker(): Promise<SelfCheckReport['worker']> {
  const started = performance.now();
  const request: SelfCheckRequest = { stem: 'self-check-run', partitions: 7 };
  const elapsed = (): number => Math.round(performance.now() - started);
  let from: string | undefined;
  try {
    const source = workerSource('self-check');
    from = source.kind === 'module' ? fileURLToPath(source.url) : source.from === 'single-executable' ? 'embedded in the executable' : 'beside the bundle';
    const reply = await new Promise<SelfCheckReply>((resolve, reject) => {
      const worker = startWorker('self-check', {}, source);
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`no answer within ${WORKER_TIMEOUT_MS / 1000} s`));
      }, WORKER_TIMEOUT_MS);
      worker.once('message', (message: SelfCheckReply) => {
        clearTimeout(timer);
        void worker.terminate();
        resolve(message);
      });
      worker.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      worker.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the worker exited (code ${code}) without answering`));
      });
      worker.postMessage(request);
    });
    const expected = partitionOf(request.stem, request.partitions);
    const problems = [
      ...(reply.isMainThread ? ['it ran on the main thread'] : []),
      ...(reply.toolVersion !== TOOL_VERSION ? [`it reports version ${reply.toolVersion}, not ${TOOL_VERSION}`] : []),
      ...(reply.partition !== expected ? [`it placed the probe in partition ${reply.partition}, the main thread in ${expected}`] : []),
    ];
    return { entry: 'self-check', ok: problems.length === 0, ms: elapsed(), from, threadId: reply.threadId, ...(problems.length > 0 ? { error: problems.join('; ') } : {}) };
  } catch (error) {
    return { entry: 'self-check', ok: false, ms: elapsed(), ...(from ? { from } : {}), error: error instanceof Error ? error.message : String(error) };
  }
}

function renderSelfCheck(report: SelfCheckReport): string {
  const runtime = {
    'single-executable': `single executable (Node.js ${report.node} built in)`,
    bundle: `single-file bundle on Node.js ${report.node}`,
    node: `Node.js ${report.node}`,
  }[report.runtime];
  const worker = report.worker.ok
    ? `ok: the "self-check" worker (${report.worker.from ?? '?'}) answered from thread ${report.worker.threadId} in ${report.worker.ms} ms`
    : `FAILED: the "self-check" worker${report.worker.from ? ` (${report.worker.from})` : ''}: ${report.worker.error}`;
  return [`taskrunner-backfill ${report.toolVersion}`, `runtime:        ${runtime}, ${report.platform} ${report.arch}`, `worker threads: ${worker}`, ''].join('\n');
}
