import type { Argv } from 'yargs';
import { LedgerStore } from '../../ledger/ledger-store.js';
import { renderStatusText, type StatusReport } from '../../report/status-report.js';
import type { CliIo } from '../cli-io.js';
import { connect } from '../connect.js';
import { EXIT_CODES } from '../exit-codes.js';
import { completeCredentials } from '../prompt-password.js';
import { loadConfig, requireDatabase, withDatabaseOptions, type CommonArgs } from '../shared-options.js';

export interface StatusArgs extends CommonArgs {
  json: boolean;
  tlsCaFile?: string;
  tlsCertificateKeyFile?: string;
}

export function statusOptions<T>(yargs: Argv<T>) {
  return withDatabaseOptions(yargs)
    .option('config', { type: 'string', array: true, requiresArg: true, describe: 'appsettings*.json to read TaskRunner:Storage:Mongo (or the worker\'s Worker:Storage:Mongo) from' })
    .option('environment', { type: 'string', requiresArg: true, describe: 'Layer appsettings.{NAME}.json after each --config appsettings.json [default: DOTNET_ENVIRONMENT, else ASPNETCORE_ENVIRONMENT]' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object on stdout' });
}

/** `status`: what the ledger says: files done per kind, the last sessions, who holds a lease. */
export async function statusCommand(args: StatusArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const { uri: givenUri, database } = requireDatabase(config);
  const uri = await completeCredentials(givenUri, io);
  const connection = await connect(uri, database, { caFile: args.tlsCaFile, certificateKeyFile: args.tlsCertificateKeyFile });
  try {
    const ledger = new LedgerStore(connection.db, config.collections.ledger);
    const report: StatusReport = {
      database: { name: database, server: connection.serverLabel },
      ledgerCollection: config.collections.ledger,
      files: await ledger.fileStatusCounts(),
      sessions: await ledger.sessions(5),
      leases: await ledger.leases(),
    };
    io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : renderStatusText(report, new Date()));
    return EXIT_CODES.ok;
  } finally {
    await connection.client.close().catch(() => undefined);
  }
}
