/**
 * The built CLI on a real pseudo-terminal (util-linux `script` gives it one) and on pipes: on a
 * terminal the logs are readable text (no JSON), progress bars are drawn, and control characters
 * from hostile file names and file content never reach the terminal raw; `--log-format json`
 * brings the JSON lines back; piped, stderr is JSON lines only.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanTreeSpec, makeSourceTree, type SourceTree } from '../helpers/source-tree.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');

/** Raw bytes a hostile source tree carries in its names and content. */
const HOSTILE_RAW = ['\u001b[2J', '\u202e', '\u0000', '\u0007'];

interface Run {
  code: number | null;
  output: string;
}

function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(taskrunner|worker)__|^(dotnet|aspnetcore)_environment$|^no_color$/i.test(name)));
}

const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI inside `script`: stdout and stderr both go to a 120x40 pseudo-terminal, read back here. */
function onTerminal(args: readonly string[]): Promise<Run> {
  const command = `stty cols 120 rows 40; exec ${[process.execPath, CLI, ...args].map(quote).join(' ')}`;
  return new Promise((resolve) => {
    const child = execFile('script', ['-qfec', command, '/dev/null'], { cwd: REPO, env: baseEnv(), timeout: 90_000, maxBuffer: 32 * 1024 * 1024, encoding: 'buffer' }, (error, stdout) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, output: stdout.toString('utf8') });
    });
    child.stdin?.end();
  });
}

function piped(args: readonly string[]): Promise<Run & { stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env: baseEnv(), timeout: 90_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, output: stdout + stderr, stdout, stderr });
    });
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDb(prefix: string): Promise<TestDb> {
  const t = await openTestDb(prefix);
  cleanups.push(() => t.drop());
  return t;
}

/** A clean tree plus a log whose name holds ESC[2J and a right-to-left override, a state file named with BEL, and NULs inside. */
async function hostileTree(): Promise<SourceTree> {
  const tree = await makeSourceTree({
    ...cleanTreeSpec(),
    'logs/runs/evil-\u001b[2J\u202ename.ndjson': '{"broken": \u0000}\n',
    'state/runs/bad-\u0007state.json': '{"runId": "x\u0000y"',
  });
  cleanups.push(() => tree.remove());
  return tree;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);
});

describe('terminal output', () => {
  it('on a terminal: text logs and progress bars, no JSON, and no raw control character from the input', async () => {
    const t = await freshDb('e2e_tty');
    const tree = await hostileTree();
    const run = await onTerminal(['import', '--source', tree.root, '--uri', t.uri]);
    expect(run.code, run.output).toBe(3);
    const lines = run.output.split(/\r?\n/);
    expect(lines.some((line) => line.includes('{"level":'))).toBe(false);
    expect(run.output).toMatch(/\d\d:\d\d:\d\d INFO {2}import starting source=/);
    expect(run.output).toContain('logs      |'); // the bars were drawn
    for (const raw of HOSTILE_RAW) expect(run.output.includes(raw), JSON.stringify(raw)).toBe(false);
    // ... yet the operator can still tell which files are bad.
    expect(run.output).toContain('logs/runs/evil-\\x1b[2J\\u{202e}name.ndjson');
    expect(run.output).toContain('state/runs/bad-\\x07state.json');
  });

  it('on a terminal with --log-format json: JSON log lines', async () => {
    const t = await freshDb('e2e_tty_json');
    const tree = await hostileTree();
    const run = await onTerminal(['import', '--source', tree.root, '--uri', t.uri, '--log-format', 'json']);
    expect(run.code, run.output).toBe(3);
    expect(run.output).toMatch(/\{"level":30,"time":\d+,"tool":"taskrunner-backfill".*"msg":"import starting"\}/);
    expect(run.output).not.toMatch(/ INFO {2}import starting/);
  });

  it('piped: stderr is JSON lines only, by default and with --log-format auto', async () => {
    const t = await freshDb('e2e_pipe');
    const tree = await hostileTree();
    for (const extra of [[], ['--log-format', 'auto']]) {
      const run = await piped(['import', '--source', tree.root, '--uri', t.uri, '--json', ...extra]);
      expect(run.code, run.stderr).toBe(3);
      const lines = run.stderr.split('\n').filter((line) => line.length > 0);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(JSON.parse(line), line).toMatchObject({ tool: 'taskrunner-backfill', level: expect.any(Number) });
    }
    // --log-format text is honoured when piped too (for a person tailing a file).
    const text = await piped(['import', '--source', tree.root, '--uri', t.uri, '--json', '--log-format', 'text']);
    expect(text.stderr).toMatch(/^\d\d:\d\d:\d\d INFO {2}import starting /m);
    expect(text.stderr).not.toContain('\u001b['); // no colors off a terminal
  });
});
