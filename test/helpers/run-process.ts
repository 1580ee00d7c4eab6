/**
 * A child process run to completion with its output captured: for tests that run something other
 * than the built CLI under this Node (npm, the packed package's bin, the single executable).
 */
import { spawn } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunProcessOptions {
  cwd: string;
  /** The whole environment of the child (nothing is inherited unless passed). */
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs `file args`, never through a shell; resolves with the exit code (never rejects on a non-zero one). */
export function runProcess(file: string, args: readonly string[], options: RunProcessOptions): Promise<ProcessResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The parent's environment without npm's script variables and without any TaskRunner setting. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const keep = Object.entries(process.env).filter(
    ([name]) => !/^taskrunner/i.test(name) && !/^worker__/i.test(name) && !/^npm_/i.test(name) && name !== 'JOB_COMPLETION_INDEX' && name !== 'NODE_OPTIONS',
  );
  return { ...Object.fromEntries(keep), ...extra };
}
