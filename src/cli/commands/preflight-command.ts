import type { Argv } from 'yargs';
import { redactConnectionString, secretsOf } from '../../config/redact.js';
import { runPreflight } from '../../pipeline/run-preflight.js';
import { renderPreflightText } from '../../report/preflight-report.js';
import type { CliIo } from '../cli-io.js';
import { connect } from '../connect.js';
import { preflightExitCode } from '../exit-codes.js';
import { createRunOutput } from '../run-output.js';
import { loadConfig, logConfigSources, requireDatabase, requireSource, withDatabaseOptions, withSourceOptions, type CommonArgs } from '../shared-options.js';

export interface PreflightArgs extends CommonArgs {
  json: boolean;
  quiet: boolean;
  logLevel?: string;
  logFormat?: string;
  tlsCaFile?: string;
  tlsCertificateKeyFile?: string;
}

export function preflightOptions<T>(yargs: Argv<T>) {
  return withDatabaseOptions(withSourceOptions(yargs)).option('logs-retention-days', {
    type: 'number',
    describe: 'The retention the import will be run with (TTL of the pack_run_logs timestamp index); none by default, as in the spec',
  });
}

/**
 * `preflight`: the checklist to run first in the change window (connection, authentication,
 * server, write access, schema, source tree, attribution, ledger and lease, estimate), each line
 * pass / warn / fail. Exit 0 when nothing fails, 3 when something does, 1 when the server cannot
 * be reached or refuses the credentials (the checklist is printed all the same).
 */
export async function preflightCommand(args: PreflightArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const source = requireSource(config);
  const { uri, database } = requireDatabase(config);
  const output = createRunOutput(io, { quiet: args.quiet, logLevel: args.logLevel, logFormat: args.logFormat, secrets: secretsOf(uri) });
  const { logger } = output;
  logConfigSources(logger, config);
  try {
    const report = await runPreflight(
      { ...config, source },
      {
        databaseName: database,
        serverLabel: redactConnectionString(uri),
        logger,
        connect: async () => {
          const connection = await connect(uri, database, { caFile: args.tlsCaFile, certificateKeyFile: args.tlsCertificateKeyFile });
          return { db: connection.db, close: () => connection.client.close() };
        },
      },
    );
    const exitCode = preflightExitCode(report);
    io.stdout.write(args.json ? `${JSON.stringify({ ...report, exitCode })}\n` : renderPreflightText(report));
    return exitCode;
  } finally {
    output.close();
  }
}
