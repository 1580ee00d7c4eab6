import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Argv } from 'yargs';
import { secretsOf } from '../../config/redact.js';
import { BackfillRuntimeError, UsageError } from '../../errors.js';
import { runImport } from '../../pipeline/run-import.js';
import { renderImportText } from '../../report/render-import-text.js';
import type { Rejection } from '../../report/types.js';
import type { CliIo } from '../cli-io.js';
import { connect } from '../connect.js';
import { EXIT_CODES } from '../exit-codes.js';
import { createRunOutput } from '../run-output.js';
import { loadConfig, logConfigSources, requireDatabase, requireSource, withDatabaseOptions, withSourceOptions, type CommonArgs } from '../shared-options.js';
import { DEFAULTS } from '../../config/defaults.js';
import { WHOLE_SOURCE } from '../../ledger/ledger-types.js';
import { parsePartition } from '../../ledger/partition.js';
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
  partition?: string;
  ledger?: boolean;
  leaseTtlSeconds?: number;
}

export function importOptions<T>(yargs: Argv<T>) {
  return withDatabaseOptions(withSourceOptions(yargs))
    .option('concurrency', { type: 'number', describe: `Write batches in flight [default: ${DEFAULTS.concurrency}]` })
    .option('overwrite', { type: 'boolean', default: false, describe: 'Replace database documents that are NEWER than the files or conflict with them (never log entries). Off by default: such documents are kept and reported.' })
    .option('logs-retention-days', { type: 'number', describe: 'Make the pack_run_logs timestamp index a TTL index with this retention (spec: disabled by default)' })
    .option('rejects', { type: 'string', describe: 'Write every rejected record as one NDJSON line to this file (must be outside --source)' })
    .option('strict', { type: 'boolean', default: false, describe: 'Stop at the first rejection (exit 3)' })
    .option('partition', { type: 'string', describe: 'K/N: import only the runs whose runId hashes to partition K of N (run N processes, one per K, to share a large backfill)' })
    .option('ledger', { type: 'boolean', default: true, describe: 'Remember finished files and skip them on the next run (--no-ledger reads and compares everything)' })
    .option('lease-ttl-seconds', { type: 'number', default: 60, describe: 'How long the import lease outlives a holder that died (another import waits this long at most)' });
}

/** `import`: the backfill itself. Returns the exit code. */
export async function importCommand(args: ImportArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const source = requireSource(config);
  const { uri, database } = requireDatabase(config);
  await assertSourceDirectory(source);
  await assertSourceHasRunStates(source, config.globs, args.allowEmpty);
  const output = createRunOutput(io, { quiet: args.quiet, logLevel: args.logLevel, logFormat: args.logFormat, secrets: secretsOf(uri), progress: { message: 'import progress' } });
  const { logger, progress } = output;
  logConfigSources(logger, config);
  const rejectsPath = args.rejects ? path.resolve(io.cwd, args.rejects) : undefined;
  if (rejectsPath && isInside(rejectsPath, source)) {
    throw new UsageError(`--rejects ${rejectsPath} is inside --source; the source tree is never written to`);
  }
  const connection = await connect(uri, database, { caFile: args.tlsCaFile, certificateKeyFile: args.tlsCertificateKeyFile });
  const strictStop = new AbortController();
  const signal = io.signal ? AbortSignal.any([io.signal, strictStop.signal]) : strictStop.signal;
  const rejectsFile = rejectsPath ? createWriteStream(rejectsPath, { flags: 'w' }) : undefined;
  const onRejection = (rejection: Rejection): void => {
    rejectsFile?.write(`${JSON.stringify(rejection)}\n`);
    if (args.strict) strictStop.abort();
  };
  try {
    logger.info({ source, database, server: connection.serverLabel }, 'import starting');
    const report = await runImport(
      {
        ...config,
        source,
        partition: args.partition === undefined ? WHOLE_SOURCE : parsePartition(args.partition),
        useLedger: args.ledger !== false,
        leaseTtlMs: leaseTtlMs(args.leaseTtlSeconds),
      },
      { db: connection.db, serverLabel: connection.serverLabel, logger, onRejection, signal, progress },
    );
    if (args.strict && report.totals.rejected > 0) report.exitCode = EXIT_CODES.issues;
    io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : renderImportText(report));
    if (!report.complete && report.exitCode === EXIT_CODES.interrupted) {
      output.lines.line('taskrunner-backfill: stopped before the end; everything written is kept. Run the same command again to resume.');
    }
    return report.exitCode;
  } finally {
    output.close();
    await connection.client.close().catch(() => undefined);
    if (rejectsFile) await new Promise((resolve) => rejectsFile.end(resolve));
  }
}

/**
 * `--lease-ttl-seconds` in ms, at least 5 s. A value that is not one positive number (`abc`, or the
 * flag given twice, which yargs turns into an array) is a usage error: as NaN it would write a lease
 * that is expired at once (no mutual exclusion) and renew it every millisecond.
 */
function leaseTtlMs(seconds: unknown): number {
  if (seconds === undefined) return 60_000;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--lease-ttl-seconds must be one positive number of seconds (got ${JSON.stringify(seconds)})`);
  }
  return Math.max(5, seconds) * 1000;
}

export async function assertSourceDirectory(source: string): Promise<void> {
  try {
    if ((await stat(source)).isDirectory()) return;
  } catch {
    // fall through
  }
  throw new BackfillRuntimeError('SOURCE_NOT_FOUND', `--source ${source} is not a readable directory`);
}

function isInside(candidate: string, root: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}
