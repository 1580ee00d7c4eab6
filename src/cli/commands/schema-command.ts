import type { Argv } from 'yargs';
import { secretsOf } from '../../config/redact.js';
import { runSchema } from '../../pipeline/run-schema.js';
import { renderSchemaText } from '../../report/schema-report.js';
import type { CliIo } from '../cli-io.js';
import { connect } from '../connect.js';
import { schemaExitCode } from '../exit-codes.js';
import { LOG_FORMATS } from '../logger.js';
import { createRunOutput } from '../run-output.js';
import { loadConfig, logConfigSources, requireDatabase, withDatabaseOptions, type CommonArgs } from '../shared-options.js';

export interface SchemaArgs extends CommonArgs {
  check: boolean;
  json: boolean;
  quiet: boolean;
  logLevel?: string;
  logFormat?: string;
  tlsCaFile?: string;
  tlsCertificateKeyFile?: string;
}

/** Options of `schema` (and `preflight`, which adds its own): which database, how to print. */
export function withOutputOptions<T>(yargs: Argv<T>) {
  return withDatabaseOptions(yargs)
    .option('config', { type: 'string', array: true, describe: 'appsettings*.json to read TaskRunner:Storage:Mongo (or the worker\'s Worker:Storage:Mongo) and TaskRunnerBackfill from; repeat to layer files, later wins' })
    .option('environment', { type: 'string', describe: 'Layer appsettings.{NAME}.json after each --config appsettings.json [default: DOTNET_ENVIRONMENT, else ASPNETCORE_ENVIRONMENT]' })
    .option('logs-retention-days', { type: 'number', describe: 'The retention the pack_run_logs timestamp index has (TTL); none by default, as in the spec' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object on stdout' })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only warnings and errors in the stderr log' })
    .option('log-level', { type: 'string', choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], describe: 'stderr log level [default: info]' })
    .option('log-format', { type: 'string', choices: [...LOG_FORMATS], describe: 'stderr log format: text or json; auto is text on a terminal [default: auto]' });
}

export function schemaOptions<T>(yargs: Argv<T>) {
  return withOutputOptions(yargs).option('check', {
    type: 'boolean',
    default: false,
    describe: 'Only compare the database with the spec (collections, validators, indexes, the ledger): missing, differing, extra; writes nothing',
  });
}

/**
 * `schema`: the spec's steps 1 and 2 (collections with validators, indexes unique first) on their
 * own, idempotent; `schema --check` compares only. Exit 0 when nothing is missing or differs where
 * it matters, 3 otherwise.
 */
export async function schemaCommand(args: SchemaArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const { uri, database } = requireDatabase(config);
  const output = createRunOutput(io, { quiet: args.quiet, logLevel: args.logLevel, logFormat: args.logFormat, secrets: secretsOf(uri) });
  const { logger } = output;
  logConfigSources(logger, config);
  const connection = await connect(uri, database, { caFile: args.tlsCaFile, certificateKeyFile: args.tlsCertificateKeyFile });
  try {
    logger.info({ database, server: connection.serverLabel }, args.check ? 'schema check starting (read-only)' : 'schema starting');
    const report = await runSchema(
      { collections: config.collections, check: args.check, ...(config.logsRetentionDays === undefined ? {} : { logsRetentionDays: config.logsRetentionDays }) },
      { db: connection.db, serverLabel: connection.serverLabel, logger },
    );
    const exitCode = schemaExitCode(report);
    io.stdout.write(args.json ? `${JSON.stringify({ ...report, exitCode })}\n` : renderSchemaText(report));
    return exitCode;
  } finally {
    output.close();
    await connection.client.close().catch(() => undefined);
  }
}
