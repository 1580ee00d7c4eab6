import path from 'node:path';
import type { Argv } from 'yargs';
import { checkedSetting, rangeText } from '../../config/limits.js';
import { scrub, secretsOf } from '../../config/redact.js';
import { BackfillRuntimeError, UsageError } from '../../errors.js';
import { runVerify } from '../../pipeline/run-verify.js';
import { renderVerifyHtml } from '../../report/render-verify-html.js';
import { renderVerifyMarkdown } from '../../report/render-verify-markdown.js';
import { renderVerifyText } from '../../report/render-verify-text.js';
import type { VerifyReport } from '../../report/verify-report.js';
import type { CliIo } from '../cli-io.js';
import { connect } from '../connect.js';
import { verifyExitCode } from '../exit-codes.js';
import { loadAcceptance } from '../accept-rejections.js';
import { OutputFile } from '../output-file.js';
import { completeCredentials } from '../prompt-password.js';
import { createRunOutput } from '../run-output.js';
import { loadConfig, logConfigSources, requireDatabase, requireSource, requireSourceDirectory, warnAboutLookAlikeNames, withDatabaseOptions, withSourceOptions, type CommonArgs } from '../shared-options.js';
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
const REPORT_FORMATS: ReadonlyMap<string, (report: VerifyReport, exitCode: number) => string> = new Map([
  ['.md', renderVerifyMarkdown],
  ['.markdown', renderVerifyMarkdown],
  ['.html', renderVerifyHtml],
  ['.htm', renderVerifyHtml],
]);

export function verifyOptions<T>(yargs: Argv<T>) {
  return withDatabaseOptions(withSourceOptions(yargs))
    .option('run', { type: 'string', array: true, requiresArg: true, describe: 'Verify only this runId (repeatable)' })
    .option('sample', { type: 'number', requiresArg: true, describe: `Verify a random sample of N runs (picked among the state files; the report lists them; ${rangeText('sample')})` })
    .option('strict', { type: 'boolean', default: false, describe: 'Extra documents in the database and source rejections fail the verification too (exit 3)' })
    .option('report', { type: 'string', requiresArg: true, describe: 'Also write a self-contained report to this file: Markdown (.md) or HTML (.html), by extension; outside --source, replaced atomically' })
    .option('logs-retention-days', { type: 'number', requiresArg: true, describe: 'The retention the import was run with (TTL of the pack_run_logs timestamp index), for the schema check; none by default' });
}

/**
 * `verify`: reads the source exactly as `import` does and compares it with the database, run by
 * run. Never writes to the data collections. Returns the exit code: 0 when nothing is missing or
 * mismatched, 3 otherwise (with --strict also for extras and rejections), 4 when interrupted. The
 * summary always reaches stdout; a --report that cannot be written is its own error on stderr
 * (`[REPORT_WRITE_FAILED]`) and makes a passed comparison exit 1 (see `verifyExitCode`).
 */
export async function verifyCommand(args: VerifyArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const source = requireSource(config);
  const { uri: givenUri, database } = requireDatabase(config);
  const runIds = selectedRuns(args);
  const sample = args.sample === undefined ? undefined : checkedSetting('sample', args.sample);
  if (runIds && sample !== undefined) throw new UsageError('--run and --sample cannot be combined: name the runs, or ask for a sample');
  const reportPath = args.report === undefined ? undefined : path.resolve(io.cwd, args.report);
  const render = reportPath ? reportRenderer(reportPath) : undefined;
  await requireSourceDirectory(source);
  await assertSourceHasRunStates(source, config.globs, args.allowEmpty);
  const acceptance = await loadAcceptance(args.acceptRejections, io.cwd);
  // Opened (a temp file beside it) before the comparison: a bad path is a usage error up front.
  const reportFile = reportPath ? await OutputFile.open(reportPath, source, { option: '--report', failureCode: 'REPORT_WRITE_FAILED' }) : undefined;
  let closeOutput = (): void => undefined;
  try {
    const uri = await completeCredentials(givenUri, io);
    const output = createRunOutput(io, { quiet: args.quiet, logLevel: args.logLevel, logFormat: args.logFormat, secrets: secretsOf(uri), progress: { message: 'verify progress' } });
    closeOutput = () => output.close();
    const { logger, progress } = output;
    logConfigSources(logger, config);
    warnAboutLookAlikeNames(database, config.collections, logger);
    const connection = await connect(uri, database, { caFile: args.tlsCaFile, certificateKeyFile: args.tlsCertificateKeyFile });
    let report: VerifyReport;
    try {
      logger.info({ source, database, server: connection.serverLabel }, 'verify starting (read-only)');
      report = await runVerify(
        { ...config, source, strict: args.strict ?? false, ...(acceptance ? { acceptance } : {}), ...(runIds ? { runIds } : {}), ...(sample === undefined ? {} : { sample }) },
        { db: connection.db, serverLabel: connection.serverLabel, logger, ...(progress ? { progress } : {}), ...(io.signal ? { signal: io.signal } : {}) },
      );
    } finally {
      output.close();
      await connection.client.close().catch(() => undefined);
    }
    let failure: BackfillRuntimeError | undefined;
    if (reportFile && render) {
      // The file shows the comparison's code: whether the file itself gets written is not known yet.
      reportFile.write(render(report, verifyExitCode(report)));
      failure = await reportFile.commit().then(() => undefined, (error: unknown) => error as BackfillRuntimeError);
      if (!failure) logger.info({ report: reportFile.path }, 'report written');
    }
    const exitCode = verifyExitCode(report, reportFile ? { reportWritten: failure === undefined } : {});
    const printed = { ...report, exitCode, reportFile: reportFile ? { path: reportFile.path, written: failure === undefined } : null };
    io.stdout.write(args.json ? `${JSON.stringify(printed)}\n` : renderVerifyText(report));
    if (failure) io.stderr.write(`taskrunner-backfill: [${failure.code}] ${scrub(failure.message, secretsOf(uri))}; the summary above is complete\n`);
    return exitCode;
  } finally {
    closeOutput();
    await reportFile?.discard();
  }
}

function selectedRuns(args: VerifyArgs): string[] | undefined {
  if (args.run === undefined) return undefined;
  const runIds = args.run.map(String);
  if (runIds.length === 0 || runIds.some((runId) => runId.length === 0)) throw new UsageError('--run needs a runId');
  return [...new Set(runIds)];
}

function reportRenderer(reportPath: string): (report: VerifyReport, exitCode: number) => string {
  const render = REPORT_FORMATS.get(path.extname(reportPath).toLowerCase());
  if (!render) throw new UsageError(`--report ${reportPath}: name a .md (Markdown) or .html (HTML) file`);
  return render;
}
