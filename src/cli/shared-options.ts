import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { DEFAULTS } from '../config/defaults.js';
import { resolveConfig, type BackfillConfig, type CliOptions } from '../config/resolve-config.js';
import { BackfillRuntimeError, UsageError } from '../errors.js';
import { ENUM_STYLES } from '../normalize/enums.js';
import { DEFAULT_SOURCE_GLOBS } from '../scan/find-source-files.js';
import { LOG_FORMATS } from './logger.js';

/** Options that say where the source is and how it is read (import, plan, verify). */
export function withSourceOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('source', { type: 'string', describe: 'Root of the filesystem-provider tree (read-only; never written)' })
    .option('config', { type: 'string', array: true, describe: 'appsettings*.json to read TaskRunner:Storage:Mongo (and TaskRunnerBackfill) from; repeat to layer files, later wins' })
    .option('runs-glob', { type: 'string', describe: `Glob for run state files, relative to --source [default: ${DEFAULT_SOURCE_GLOBS.runs}]` })
    .option('logs-glob', { type: 'string', describe: `Glob for log files [default: ${DEFAULT_SOURCE_GLOBS.logs}]` })
    .option('approvals-glob', { type: 'string', describe: `Glob for approvals files [default: ${DEFAULT_SOURCE_GLOBS.approvals}]` })
    .option('artifacts-glob', { type: 'string', describe: `Glob for artifact manifests [default: ${DEFAULT_SOURCE_GLOBS.artifacts}]` })
    .option('enum-style', { type: 'string', choices: ENUM_STYLES as string[], describe: `How enums are written [default: ${DEFAULTS.enumStyle}]` })
    .option('max-file-bytes', { type: 'number', describe: `Largest state/approvals/manifest file read [default: ${DEFAULTS.maxFileBytes}]` })
    .option('max-line-bytes', { type: 'number', describe: `Largest log line kept [default: ${DEFAULTS.maxLineBytes}]` })
    .option('batch-size', { type: 'number', describe: `Records per write batch [default: ${DEFAULTS.batchSize}]` })
    .option('batch-bytes', { type: 'number', describe: `Approximate bytes per write batch [default: ${DEFAULTS.batchBytes}]` })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object on stdout instead of the readable summary' })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only warnings and errors in the stderr log' })
    .option('log-level', { type: 'string', choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], describe: `stderr log level [default: ${DEFAULTS.logLevel}]` })
    .option('log-format', { type: 'string', choices: [...LOG_FORMATS], describe: 'stderr log format: text (one readable line per record) or json (pino lines); auto is text on a terminal, json otherwise [default: auto]' });
}

/** Options that say which database (import, verify, status). */
export function withDatabaseOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('uri', { type: 'string', describe: 'MongoDB connection string [default: from --config or TaskRunner__Storage__Mongo__ConnectionString]' })
    .option('db', { type: 'string', describe: 'Database name [default: TaskRunner:Storage:Mongo:Database, else the one in the connection string]' })
    .option('tls-ca-file', { type: 'string', describe: 'CA bundle for TLS (same as tlsCAFile= in the URI)' })
    .option('tls-certificate-key-file', { type: 'string', describe: 'Client certificate and key (PEM) for TLS (same as tlsCertificateKeyFile= in the URI)' })
    .option('ledger-collection', { type: 'string', describe: 'Collection for the importer\'s own ledger [default: taskrunner_backfill_ledger]' });
}

/** Parsed flags every command shares: the config options plus the --config files. */
export interface CommonArgs extends CliOptions {
  config?: string[];
}

/** Reads the --config files (the only config I/O) and resolves the one frozen config. */
export async function loadConfig(args: CommonArgs, env: NodeJS.ProcessEnv, cwd: string): Promise<Readonly<BackfillConfig>> {
  const files = [];
  for (const path of args.config ?? []) {
    try {
      files.push({ path, text: await readFile(path, 'utf8') });
    } catch (error) {
      throw new BackfillRuntimeError('CONFIG_UNREADABLE', `cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  }
  // Only the config options, never yargs' own fields (`_`, `$0`, aliases), reach the resolver.
  const cli: CliOptions = {
    source: args.source,
    uri: args.uri,
    db: args.db,
    runsGlob: args.runsGlob,
    logsGlob: args.logsGlob,
    approvalsGlob: args.approvalsGlob,
    artifactsGlob: args.artifactsGlob,
    enumStyle: args.enumStyle,
    maxFileBytes: args.maxFileBytes,
    maxLineBytes: args.maxLineBytes,
    batchSize: args.batchSize,
    batchBytes: args.batchBytes,
    concurrency: args.concurrency,
    overwrite: args.overwrite,
    logsRetentionDays: args.logsRetentionDays,
    ledgerCollection: args.ledgerCollection,
  };
  return resolveConfig(cli, env, files, cwd);
}

export function requireSource(config: BackfillConfig): string {
  if (!config.source) throw new UsageError('--source is required (or TaskRunnerBackfill:Source in a --config file)');
  return config.source;
}

export function requireDatabase(config: BackfillConfig): { uri: string; database: string } {
  if (!config.uri) {
    throw new UsageError('no connection string: pass --uri, --config appsettings.json, or set TaskRunner__Storage__Mongo__ConnectionString');
  }
  if (!config.database) {
    throw new UsageError('no database name: pass --db, set TaskRunner:Storage:Mongo:Database, or name it in the connection string');
  }
  return { uri: config.uri, database: config.database };
}
