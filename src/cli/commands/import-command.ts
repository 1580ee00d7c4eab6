import path from 'node:path';
import type { Argv } from 'yargs';
import { secretsOf } from '../../config/redact.js';
import { rangeText, validateLeaseTtlSeconds } from '../../config/limits.js';
import { runImport } from '../../pipeline/run-import.js';
import { renderImportText } from '../../report/render-import-text.js';
import type { Rejection } from '../../domain/outcomes.js';
import type { CliIo } from '../cli-io.js';
import { connect } from '../connect.js';
import { EXIT_CODES, errorExitCode, importExitCode } from '../exit-codes.js';
import { loadAcceptance } from '../accept-rejections.js';
import { OutputFile } from '../output-file.js';
import { completeCredentials } from '../prompt-password.js';
import { createRunOutput } from '../run-output.js';
import { loadConfig, logConfigSources, requireDatabase, requireSource, requireSourceDirectory, warnAboutLookAlikeNames, withDatabaseOptions, withSourceOptions, type CommonArgs } from '../shared-options.js';
import { DEFAULTS } from '../../config/defaults.js';
import { resolvePartition } from '../../config/partition-option.js';
import { partitionLabel } from '../../domain/partition.js';
import { assertSourceHasRunStates } from '../source-check.js';

export interface ImportArgs extends CommonArgs {
  json: boolean;
  quiet: boolean;
  logLevel?: string;
  logFormat?: string;
  rejects?: string;
  strict?: boolean;
  tlsCaFile?: string;
  tlsCertificateKeyFile?: string;
  ledger?: boolean;
  leaseTtlSeconds?: number;
}

export function importOptions<T>(yargs: Argv<T>) {
  return withDatabaseOptions(withSourceOptions(yargs))
    .option('concurrency', { type: 'number', requiresArg: true, describe: `Write batches in flight [default: ${DEFAULTS.concurrency}; ${rangeText('concurrency')}]` })
    .option('overwrite', { type: 'boolean', default: false, describe: 'Replace database documents that are NEWER than the files or conflict with them (never log entries). Off by default: such documents are kept and reported.' })
    .option('logs-retention-days', { type: 'number', requiresArg: true, describe: `Make the pack_run_logs timestamp index a TTL index with this retention (spec: disabled by default; ${rangeText('logsRetentionDays')})` })
    .option('rejects', { type: 'string', requiresArg: true, describe: 'Write every rejected record as one NDJSON line to this file (outside --source; replaced at the end, never written through a link)' })
    .option('strict', { type: 'boolean', default: false, describe: 'Stop at the first rejection (exit 3)' })
    .option('partition', { type: 'string', requiresArg: true, describe: 'K/N: import only the runs whose runId hashes to partition K of N (run N processes, one per K, to share a large backfill); auto: partition JOB_COMPLETION_INDEX+1 of --partitions N (in a Kubernetes Indexed Job)' })
    .option('partitions', { type: 'number', requiresArg: true, describe: 'N for --partition auto: the Indexed Job\'s completions' })
    .option('ledger', { type: 'boolean', default: true, describe: 'Remember finished files and skip them on the next run (--no-ledger reads and compares everything)' })
    .option('lease-ttl-seconds', { type: 'number', requiresArg: true, default: 60, describe: `How long the import lease outlives a holder that died (another import waits this long at most; ${rangeText('leaseTtlSeconds')})` });
}

/** `import`: the backfill itself. Returns the exit code. */
export async function importCommand(args: ImportArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const source = requireSource(config);
  const { uri: givenUri, database } = requireDatabase(config);
  const leaseTtlMs = validateLeaseTtlSeconds(args.leaseTtlSeconds) * 1000;
  const partition = resolvePartition(config.partitioning ?? {}, io.env);
  await requireSourceDirectory(source);
  await assertSourceHasRunStates(source, config.globs, args.allowEmpty);
  const acceptance = await loadAcceptance(args.acceptRejections, io.cwd);
  // The rejects file is opened before anything connects: a bad path is a usage error up front.
  const rejectsFile = args.rejects === undefined ? undefined : await OutputFile.open(path.resolve(io.cwd, args.rejects), source, { option: '--rejects', failureCode: 'OUTPUT_WRITE_FAILED' });
  let closeOutput = (): void => undefined;
  try {
    const uri = await completeCredentials(givenUri, io);
    const output = createRunOutput(io, { quiet: args.quiet, logLevel: args.logLevel, logFormat: args.logFormat, secrets: secretsOf(uri), progress: { message: 'import progress' } });
    closeOutput = () => output.close();
    const { logger, progress } = output;
    logConfigSources(logger, config);
    warnAboutLookAlikeNames(database, config.collections, logger);
    const connection = await connect(uri, database, { caFile: args.tlsCaFile, certificateKeyFile: args.tlsCertificateKeyFile });
    // Stops reading (in-flight batches finish, the session ends as interrupted, the lease is
    // released): --strict at the first rejection, or the rejects file failing mid-run.
    const strictStop = new AbortController();
    const outputFailed = new AbortController();
    rejectsFile?.onFailure(() => outputFailed.abort());
    const signal = AbortSignal.any([strictStop.signal, outputFailed.signal, ...(io.signal ? [io.signal] : [])]);
    const onRejection = (rejection: Rejection): void => {
      rejectsFile?.write(`${JSON.stringify(rejection)}\n`);
      if (args.strict && !rejection.accepted) strictStop.abort();
    };
    try {
      logger.info({ source, database, server: connection.serverLabel, ...(partition.count > 1 ? { partition: partitionLabel(partition) } : {}) }, 'import starting');
      const report = await runImport(
        { ...config, source, partition, useLedger: args.ledger !== false, leaseTtlMs, ...(acceptance ? { acceptance } : {}) },
        { db: connection.db, serverLabel: connection.serverLabel, logger, onRejection, signal, progress },
      );
      const outputFailure = await rejectsFile?.commit().then(() => undefined, (error: unknown) => ({ error }));
      // A rejects file that could not be written decides the code (it is rethrown below, after the summary).
      const exitCode = outputFailure ? errorExitCode(outputFailure.error) : importExitCode(report, { strict: args.strict ?? false });
      const printed = { ...report, exitCode, ...(rejectsFile ? { rejectsFile: { path: rejectsFile.path, written: !outputFailure } } : {}) };
      output.close();
      io.stdout.write(args.json ? `${JSON.stringify(printed)}\n` : renderImportText(report, exitCode));
      // The summary went out; the failure is reported (and its exit code decided) in run-cli.
      if (outputFailure) throw outputFailure.error;
      if (!report.complete && exitCode === EXIT_CODES.interrupted) {
        output.lines.line('taskrunner-backfill: stopped before the end; everything written is kept. Run the same command again to resume.');
      }
      return exitCode;
    } finally {
      await connection.client.close().catch(() => undefined);
    }
  } catch (error) {
    // A rejects file that failed mid-run is the reason the import stopped, whatever followed.
    throw rejectsFile?.failure ?? error;
  } finally {
    closeOutput();
    await rejectsFile?.discard();
  }
}
