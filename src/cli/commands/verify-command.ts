import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Argv } from 'yargs';
import { secretsOf } from '../../config/redact.js';
import { UsageError } from '../../errors.js';
import { runVerify } from '../../pipeline/run-verify.js';
import { renderVerifyHtml } from '../../report/render-verify-html.js';
import { renderVerifyMarkdown } from '../../report/render-verify-markdown.js';
import { renderVerifyText } from '../../report/render-verify-text.js';
import type { VerifyReport } from '../../report/verify-report.js';
import type { CliIo } from '../cli-io.js';
import { connect } from '../connect.js';
import { createRunOutput } from '../run-output.js';
import { loadConfig, logConfigSources, requireDatabase, requireSource, withDatabaseOptions, withSourceOptions, type CommonArgs } from '../shared-options.js';
import { assertSourceDirectory } from './import-command.js';
import { assertSourceHasRunStates } from '../source-check.js';

export interface VerifyArgs extends CommonArgs {
  json: boolean;
  quiet: boolean;
  logLevel?: string;
  logFormat?: string;
  run?: string[];
  sample?: number;
  strict?: boolean;
  report?: string;
  tlsCaFile?: string;
  tlsCertificateKeyFile?: string;
}

/** Report formats by file extension. */
const REPORT_FORMATS: ReadonlyMap<string, (report: VerifyReport) => string> = new Map([
  ['.md', renderVerifyMarkdown],
  ['.markdown', renderVerifyMarkdown],
  ['.html', renderVerifyHtml],
  ['.htm', renderVerifyHtml],
]);

export function verifyOptions<T>(yargs: Argv<T>) {
  return withDatabaseOptions(withSourceOptions(yargs))
    .option('run', { type: 'string', array: true, describe: 'Verify only this runId (repeatable)' })
    .option('sample', { type: 'number', describe: 'Verify a random sample of N runs (picked among the state files; the report lists them)' })
    .option('strict', { type: 'boolean', default: false, describe: 'Extra documents in the database and source rejections fail the verification too (exit 3)' })
    .option('report', { type: 'string', describe: 'Also write a self-contained report to this file: Markdown (.md) or HTML (.html), by extension' })
    .option('logs-retention-days', { type: 'number', describe: 'The retention the import was run with (TTL of the pack_run_logs timestamp index), for the schema check; none by default' });
}

/**
 * `verify`: reads the source exactly as `import` does and compares it with the database, run by
 * run. Never writes to the data collections. Returns the exit code: 0 when nothing is missing or
 * mismatched, 3 otherwise (with --strict also for extras and rejections), 4 when interrupted.
 */
export async function verifyCommand(args: VerifyArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const source = requireSource(config);
  const { uri, database } = requireDatabase(config);
  const runIds = selectedRuns(args);
  const sample = sampleSize(args);
  if (runIds && sample !== undefined) throw new UsageError('--run and --sample cannot be combined: name the runs, or ask for a sample');
  const reportPath = args.report === undefined ? undefined : path.resolve(io.cwd, args.report);
  const render = reportPath ? reportRenderer(reportPath, source) : undefined;
  if (reportPath) await assertWritableDirectory(path.dirname(reportPath));
  await assertSourceDirectory(source);
  await assertSourceHasRunStates(source, config.globs, args.allowEmpty);

  const output = createRunOutput(io, { quiet: args.quiet, logLevel: args.logLevel, logFormat: args.logFormat, secrets: secretsOf(uri), progress: { message: 'verify progress' } });
  const { logger, progress } = output;
  logConfigSources(logger, config);
  const connection = await connect(uri, database, { caFile: args.tlsCaFile, certificateKeyFile: args.tlsCertificateKeyFile });
  try {
    logger.info({ source, database, server: connection.serverLabel }, 'verify starting (read-only)');
    const report = await runVerify(
      { ...config, source, strict: args.strict ?? false, ...(runIds ? { runIds } : {}), ...(sample === undefined ? {} : { sample }) },
      { db: connection.db, serverLabel: connection.serverLabel, logger, ...(progress ? { progress } : {}), ...(io.signal ? { signal: io.signal } : {}) },
    );
    if (reportPath && render) {
      await writeAtomically(reportPath, render(report));
      logger.info({ report: reportPath }, 'report written');
    }
    io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : renderVerifyText(report));
    return report.exitCode;
  } finally {
    output.close();
    await connection.client.close().catch(() => undefined);
  }
}

function selectedRuns(args: VerifyArgs): string[] | undefined {
  if (args.run === undefined) return undefined;
  const runIds = args.run.map(String);
  if (runIds.length === 0 || runIds.some((runId) => runId.length === 0)) throw new UsageError('--run needs a runId');
  return [...new Set(runIds)];
}

function sampleSize(args: VerifyArgs): number | undefined {
  if (args.sample === undefined) return undefined;
  if (!Number.isSafeInteger(args.sample) || args.sample < 1) {
    throw new UsageError(`--sample must be a whole number of at least 1 (got ${JSON.stringify(args.sample)})`);
  }
  return args.sample;
}

function reportRenderer(reportPath: string, source: string): (report: VerifyReport) => string {
  const render = REPORT_FORMATS.get(path.extname(reportPath).toLowerCase());
  if (!render) throw new UsageError(`--report ${reportPath}: name a .md (Markdown) or .html (HTML) file`);
  const relative = path.relative(source, reportPath);
  if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))) {
    throw new UsageError(`--report ${reportPath} is inside --source; the source tree is never written to`);
  }
  return render;
}

async function assertWritableDirectory(directory: string): Promise<void> {
  try {
    if ((await stat(directory)).isDirectory()) {
      await access(directory, constants.W_OK);
      return;
    }
  } catch {
    // fall through
  }
  throw new UsageError(`--report: the folder ${directory} does not exist or cannot be written to`);
}

/** Temp file + rename, so a reader never sees half a report. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, 'utf8');
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}
