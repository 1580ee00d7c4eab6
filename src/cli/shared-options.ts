import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Argv } from 'yargs';
import type { CollectionNames } from '../config/collection-names.js';
import { dotnetEnvironment, readConfigFiles } from '../config/config-files.js';
import { checkConnectionStringScheme } from '../config/connection-string.js';
import { DEFAULTS } from '../config/defaults.js';
import { rangeText } from '../config/limits.js';
import { databaseInConnectionString } from '../config/redact.js';
import { resolveConfig, type BackfillConfig, type CliOptions } from '../config/resolve-config.js';
import { checkDatabaseNames, nonAsciiCharacters } from '../config/validate-names.js';
import { UsageError } from '../errors.js';
import { ENUM_STYLES } from '../normalize/enums.js';
import { DEFAULT_SOURCE_GLOBS } from '../scan/find-source-files.js';
import { LOG_FORMATS } from './logger.js';

/** Options that say where the source is and how it is read (import, plan, verify). */
export function withSourceOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('source', { type: 'string', requiresArg: true, describe: 'Root of the filesystem-provider tree (read-only; never written)' })
    .option('config', { type: 'string', requiresArg: true, array: true, describe: 'appsettings*.json to read TaskRunner:Storage:Mongo or the worker\'s Worker:Storage:Mongo (and TaskRunnerBackfill) from; repeat to layer files, later wins' })
    .option('environment', { type: 'string', requiresArg: true, describe: 'Layer appsettings.{NAME}.json after each --config appsettings.json, as the .NET host does [default: DOTNET_ENVIRONMENT, else ASPNETCORE_ENVIRONMENT, else none]' })
    .option('runs-glob', { type: 'string', requiresArg: true, describe: `Glob for run state files, relative to --source [default: ${DEFAULT_SOURCE_GLOBS.runs}]` })
    .option('logs-glob', { type: 'string', requiresArg: true, describe: `Glob for log files [default: ${DEFAULT_SOURCE_GLOBS.logs}]` })
    .option('approvals-glob', { type: 'string', requiresArg: true, describe: `Glob for approvals files [default: ${DEFAULT_SOURCE_GLOBS.approvals}]` })
    .option('artifacts-glob', { type: 'string', requiresArg: true, describe: `Glob for artifact manifests [default: ${DEFAULT_SOURCE_GLOBS.artifacts}]` })
    .option('enum-style', { type: 'string', requiresArg: true, choices: ENUM_STYLES as string[], describe: `How enums are written [default: ${DEFAULTS.enumStyle}]` })
    .option('max-file-bytes', { type: 'number', requiresArg: true, describe: `Largest state/approvals/manifest file read [default: ${DEFAULTS.maxFileBytes}; ${rangeText('maxFileBytes')}]` })
    .option('max-line-bytes', { type: 'number', requiresArg: true, describe: `Largest log line kept [default: ${DEFAULTS.maxLineBytes}; ${rangeText('maxLineBytes')}]` })
    .option('workers', { type: 'number', requiresArg: true, describe: `Worker threads that read and normalize log files; 0 reads them in the main thread [default: ${DEFAULTS.workers}; ${rangeText('workers')}]` })
    .option('batch-size', { type: 'number', requiresArg: true, describe: `Records per write batch [default: ${DEFAULTS.batchSize}; ${rangeText('batchSize')}]` })
    .option('batch-bytes', { type: 'number', requiresArg: true, describe: `Approximate bytes per write batch [default: ${DEFAULTS.batchBytes}; ${rangeText('batchBytes')}]` })
    .option('accept-rejections', {
      type: 'string',
      requiresArg: true,
      describe: 'A rejects file (written by --rejects) you reviewed: exactly those records (same file, position and bytes) count as accepted, not rejected, and no longer fail the run',
    })
    .option('allow-empty', { type: 'boolean', default: false, describe: 'Go on when --source holds no run state file (otherwise a usage error: it is usually the wrong folder)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object on stdout instead of the readable summary' })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only warnings and errors in the stderr log' })
    .option('log-level', { type: 'string', requiresArg: true, choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], describe: `stderr log level [default: ${DEFAULTS.logLevel}]` })
    .option('log-format', { type: 'string', requiresArg: true, choices: [...LOG_FORMATS], describe: 'stderr log format: text (one readable line per record) or json (pino lines); auto is text on a terminal, json otherwise [default: auto]' });
}

/** Options that say which database (import, verify, status). */
export function withDatabaseOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('uri', { type: 'string', requiresArg: true, describe: 'MongoDB connection string [default: from --config or TaskRunner__Storage__Mongo__ConnectionString / Worker__Storage__Mongo__ConnectionString]' })
    .option('db', { type: 'string', requiresArg: true, describe: 'Database name [default: TaskRunner:Storage:Mongo:Database, else the one in the connection string]' })
    .option('tls-ca-file', { type: 'string', requiresArg: true, describe: 'CA bundle for TLS (same as tlsCAFile= in the URI)' })
    .option('tls-certificate-key-file', { type: 'string', requiresArg: true, describe: 'Client certificate and key (PEM) for TLS (same as tlsCertificateKeyFile= in the URI)' })
    .option('ledger-collection', { type: 'string', requiresArg: true, describe: 'Collection for the importer\'s own ledger [default: taskrunner_backfill_ledger]' });
}

/** Parsed flags every command shares: the config options plus the --config files. */
export interface CommonArgs extends CliOptions {
  config?: string[];
  environment?: string;
  /** `--accept-rejections FILE` (import, plan, verify). */
  acceptRejections?: string;
  /** `--allow-empty` (import, plan, verify): a --source with no run state file is not an error. */
  allowEmpty?: boolean;
}

/**
 * Reads the --config files (the only config I/O), each followed by its appsettings.{Environment}.json
 * when an environment is named, and resolves the one frozen config. A missing or unreadable file
 * and a file that is not valid JSON are usage errors (exit 2).
 */
export async function loadConfig(args: CommonArgs, env: NodeJS.ProcessEnv, cwd: string): Promise<Readonly<BackfillConfig>> {
  const environment = dotnetEnvironment(args.environment, env);
  const { files, notes } = await readConfigFiles((args.config ?? []).map(String), environment, cwd);
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
    workers: args.workers,
    batchSize: args.batchSize,
    batchBytes: args.batchBytes,
    concurrency: args.concurrency,
    overwrite: args.overwrite,
    logsRetentionDays: args.logsRetentionDays,
    ledgerCollection: args.ledgerCollection,
    partition: args.partition,
    partitions: args.partitions,
  };
  const config = resolveConfig(cli, env, files, cwd);
  const origin = { ...config.origin, files: config.origin?.files ?? [], notes, ...(environment ? { environment: `${environment.name} (${environment.from})` } : {}) };
  return Object.freeze({ ...config, origin: Object.freeze(origin) });
}

/**
 * One log line saying which configuration files were read (in order), the .NET environment
 * layered, and where the connection string and database name came from; then a warning for each
 * file that was not read but may have been meant.
 */
export function logConfigSources(logger: Logger, config: BackfillConfig): void {
  const origin = config.origin;
  if (!origin) return;
  // Said only when something beyond the command line was used: files, an environment, variables.
  if (origin.files.length > 0 || origin.environment || (origin.uri !== undefined && origin.uri !== '--uri')) {
    logger.info(
      {
        ...(origin.files.length > 0 ? { configFiles: origin.files } : {}),
        ...(origin.environment ? { environment: origin.environment } : {}),
        ...(origin.uri ? { connectionStringFrom: origin.uri } : {}),
        ...(origin.database ? { databaseFrom: origin.database } : {}),
      },
      origin.files.length > 0 ? `configuration read from ${origin.files.join(', ')}` : 'no configuration file read',
    );
  }
  for (const note of origin.notes ?? []) logger.warn(note);
}

export function requireSource(config: BackfillConfig): string {
  if (!config.source) throw new UsageError('--source is required (or TaskRunnerBackfill:Source in a --config file)');
  return config.source;
}

/**
 * The connection string and database, checked before anything connects: the scheme, and the
 * database and collection names by MongoDB's rules (wherever they came from: flags, environment,
 * config files, the connection string's path).
 */
export function requireDatabase(config: BackfillConfig): { uri: string; database: string } {
  if (!config.uri) {
    throw new UsageError('no connection string: pass --uri, --config appsettings.json (TaskRunner:Storage:Mongo or the worker\'s Worker:Storage:Mongo), or set TaskRunner__Storage__Mongo__ConnectionString');
  }
  checkConnectionStringScheme(config.uri);
  if (config.database === undefined) {
    throw new UsageError('no database name: pass --db, set TaskRunner:Storage:Mongo:Database, or name it in the connection string');
  }
  checkDatabaseNames({ database: config.database, uriDatabase: databaseInConnectionString(config.uri), collections: config.collections });
  return { uri: config.uri, database: config.database };
}

/** `--source` must be a folder this process can read: a usage error (exit 2) otherwise. */
export async function requireSourceDirectory(source: string): Promise<void> {
  const fix = "pass the root folder of the filesystem provider's tree (the one holding state/ and logs/)";
  let stats;
  try {
    stats = await stat(source);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`--source ${source} does not exist; ${fix}`);
    throw new UsageError(`--source ${source} cannot be used (${code ?? String(error)}); ${fix}, readable by this user`);
  }
  if (!stats.isDirectory()) throw new UsageError(`--source ${source} is a file, not a folder; ${fix}`);
  try {
    await access(source, constants.R_OK | constants.X_OK);
  } catch (error) {
    throw new UsageError(`--source ${source} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}); run as a user who can read it`);
  }
}

/**
 * MongoDB accepts any Unicode in names, so a look-alike (Cyrillic "а" for Latin "a") silently
 * selects another database or collection than the service's: say so once per such name.
 */
export function warnAboutLookAlikeNames(database: string, collections: CollectionNames, logger: Logger): void {
  for (const [what, name] of [['database', database], ...Object.entries(collections).map(([role, value]) => [`${role} collection`, value])] as Array<[string, string]>) {
    const characters = nonAsciiCharacters(name);
    if (characters.length > 0) {
      logger.warn({ name, characters }, `the ${what} name contains characters outside ASCII (${characters.join(', ')}); make sure it is the name the service uses`);
    }
  }
}
