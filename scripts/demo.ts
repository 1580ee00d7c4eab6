/**
 * `npm run demo`: imports the bundled sample (fixtures/sample) into a throwaway server and prints
 * the summary, then runs the same command again to show that a re-run changes nothing.
 * The server is MONGODB_URI if set, else mongodb-memory-server, else a FerretDB built locally
 * (test/helpers/test-server.ts, the same provisioning the tests use). Dev script, not runtime code.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer } from '../test/helpers/test-server.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const sample = path.join(repoRoot, 'fixtures/sample');
const database = `taskrunner_demo_${Date.now().toString(36)}`;

function runImport(uri: string, extra: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, 'import', '--source', sample, '--uri', uri, '--db', database, '--quiet', ...extra],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout }),
    );
    child.stderr?.pipe(process.stderr);
  });
}

const server = await startTestServer({ log: (line) => process.stderr.write(`demo: ${line}\n`) });
let exitCode = 0;
try {
  process.stderr.write(`demo: importing ${path.relative(repoRoot, sample)} into database ${database} on ${server.description}\n\n`);
  const first = await runImport(server.uri, []);
  process.stdout.write(first.stdout);
  const second = await runImport(server.uri, ['--json']);
  const report = JSON.parse(second.stdout) as { totals: Record<string, number>; files: { skippedUnchanged: number } };
  process.stdout.write(
    `\nSecond run of the same command: ${report.totals.inserted} inserted, ${report.totals.updated} updated, ` +
      `${report.totals.unchanged} unchanged, ${report.files.skippedUnchanged} files skipped as already imported ` +
      '(a re-run never duplicates; files with rejections are read again so they stay reported).\n',
  );
  // The sample deliberately holds broken files, so the import exits 3 ("finished with rejections").
  if (first.code !== 3 || second.code !== 3) {
    process.stderr.write(`demo: unexpected exit codes ${first.code} and ${second.code} (expected 3: the sample has rejections)\n`);
    exitCode = 1;
  } else {
    process.stdout.write('Exit code 3 is expected here: the sample deliberately contains broken files (see fixtures/README.md).\n');
  }
} finally {
  if (process.env.MONGODB_URI === undefined) await server.stop();
}
process.exitCode = exitCode;
