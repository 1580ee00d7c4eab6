import path from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { UsageError } from '../errors.js';
import { ENUM_STYLES, type EnumStyle } from '../normalize/enums.js';
import { DEFAULT_SOURCE_GLOBS, type SourceGlobs } from '../scan/find-source-files.js';
import { DEFAULT_COLLECTION_NAMES, type CollectionNames } from './collection-names.js';
import { DEFAULTS } from './defaults.js';
import { checkedSetting } from './limits.js';
import { databaseInConnectionString } from './redact.js';

/** Options as they come from the command line; anything absent falls through to env, file, default. */
export interface CliOptions {
  source?: string;
  uri?: string;
  db?: string;
  runsGlob?: string;
  logsGlob?: string;
  approvalsGlob?: string;
  artifactsGlob?: string;
  enumStyle?: string;
  batchSize?: number;
  batchBytes?: number;
  concurrency?: number;
  maxFileBytes?: number;
  maxLineBytes?: number;
  overwrite?: boolean;
  logsRetentionDays?: number;
  ledgerCollection?: string;
}

/** A configuration file's path and text, read by the caller (the CLI edge). */
export interface ConfigFileText {
  path: string;
  text: string;
}

/** The one configuration of a run, resolved once and frozen. */
export interface BackfillConfig {
  source?: string;
  globs: SourceGlobs;
  uri?: string;
  database?: string;
  collections: CollectionNames;
  enumStyle: EnumStyle;
  batchSize: number;
  batchBytes: number;
  concurrency: number;
  maxFileBytes: number;
  maxLineBytes: number;
  overwrite: boolean;
  logsRetentionDays?: number;
}

type Layer = Partial<Record<string, unknown>>;

/**
 * Precedence: flags > environment > config files (later files win, as .NET layers
 * appsettings.json then appsettings.{Environment}.json) > defaults.
 *
 * From the service's own appsettings (`TaskRunner:Storage:Mongo`): ConnectionString, Database,
 * RunsCollection, LogsCollection, ArtifactsCollection, ApprovalsCollection; keys are matched
 * case-insensitively, `//` comments and trailing commas are allowed (as .NET allows them).
 * The importer's own settings live beside them under `TaskRunnerBackfill` (see the README).
 * Environment: the .NET override form `TaskRunner__Storage__Mongo__ConnectionString` etc.
 */
export function resolveConfig(
  cli: CliOptions,
  env: Readonly<Record<string, string | undefined>>,
  files: readonly ConfigFileText[],
  cwd: string,
): Readonly<BackfillConfig> {
  const fromFiles: Layer = {};
  for (const file of files) Object.assign(fromFiles, dropUndefined(settingsFromFile(file)));
  const fromEnv = settingsFromEnv(env);
  const pick = <T>(key: keyof CliOptions | string): T | undefined =>
    ((cli as Layer)[key] ?? fromEnv[key] ?? fromFiles[key]) as T | undefined;

  const enumStyle = (pick<string>('enumStyle') ?? DEFAULTS.enumStyle).toLowerCase();
  if (!ENUM_STYLES.includes(enumStyle as EnumStyle)) {
    throw new UsageError(`--enum-style must be one of ${ENUM_STYLES.join(', ')} (got "${enumStyle}")`);
  }
  const uri = pick<string>('uri');
  const database = pick<string>('db') ?? (uri ? databaseInConnectionString(uri) : undefined);
  const source = pick<string>('source');
  const config: BackfillConfig = {
    ...(source === undefined ? {} : { source: path.resolve(cwd, source) }),
    globs: Object.freeze({
      runs: pick<string>('runsGlob') ?? DEFAULT_SOURCE_GLOBS.runs,
      logs: pick<string>('logsGlob') ?? DEFAULT_SOURCE_GLOBS.logs,
      approvals: pick<string>('approvalsGlob') ?? DEFAULT_SOURCE_GLOBS.approvals,
      artifacts: pick<string>('artifactsGlob') ?? DEFAULT_SOURCE_GLOBS.artifacts,
    }),
    ...(uri === undefined ? {} : { uri }),
    ...(database === undefined ? {} : { database }),
    collections: Object.freeze({
      runs: pick<string>('runsCollection') ?? DEFAULT_COLLECTION_NAMES.runs,
      logs: pick<string>('logsCollection') ?? DEFAULT_COLLECTION_NAMES.logs,
      approvals: pick<string>('approvalsCollection') ?? DEFAULT_COLLECTION_NAMES.approvals,
      artifacts: pick<string>('artifactsCollection') ?? DEFAULT_COLLECTION_NAMES.artifacts,
      ledger: pick<string>('ledgerCollection') ?? DEFAULT_COLLECTION_NAMES.ledger,
    }),
    enumStyle: enumStyle as EnumStyle,
    batchSize: checkedSetting('batchSize', pick('batchSize') ?? DEFAULTS.batchSize),
    batchBytes: checkedSetting('batchBytes', pick('batchBytes') ?? DEFAULTS.batchBytes),
    concurrency: checkedSetting('concurrency', pick('concurrency') ?? DEFAULTS.concurrency),
    maxFileBytes: checkedSetting('maxFileBytes', pick('maxFileBytes') ?? DEFAULTS.maxFileBytes),
    maxLineBytes: checkedSetting('maxLineBytes', pick('maxLineBytes') ?? DEFAULTS.maxLineBytes),
    overwrite: Boolean(pick('overwrite') ?? false),
  };
  const retention = pick<number>('logsRetentionDays');
  if (retention !== undefined) config.logsRetentionDays = checkedSetting('logsRetentionDays', retention);
  const collectionNames = Object.values(config.collections);
  if (new Set(collectionNames).size !== collectionNames.length) {
    throw new UsageError(`collection names must all differ (got ${collectionNames.join(', ')}); the ledger is never a data collection`);
  }
  return Object.freeze(config);
}

function dropUndefined(layer: Layer): Layer {
  return Object.fromEntries(Object.entries(layer).filter(([, value]) => value !== undefined));
}

/** Looks a path up in parsed JSON, case-insensitively at each level (as .NET configuration does). */
function lookup(root: unknown, keys: readonly string[]): unknown {
  let node = root;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
    const entry = Object.entries(node).find(([name]) => name.toLowerCase() === key.toLowerCase());
    node = entry?.[1];
  }
  return node;
}

const MONGO_KEYS: ReadonlyArray<[string, string]> = [
  ['ConnectionString', 'uri'],
  ['Database', 'db'],
  ['RunsCollection', 'runsCollection'],
  ['LogsCollection', 'logsCollection'],
  ['ArtifactsCollection', 'artifactsCollection'],
  ['ApprovalsCollection', 'approvalsCollection'],
];

const TOOL_KEYS: ReadonlyArray<[string, string]> = [
  ['Source', 'source'],
  ['RunsGlob', 'runsGlob'],
  ['LogsGlob', 'logsGlob'],
  ['ApprovalsGlob', 'approvalsGlob'],
  ['ArtifactsGlob', 'artifactsGlob'],
  ['EnumStyle', 'enumStyle'],
  ['BatchSize', 'batchSize'],
  ['BatchBytes', 'batchBytes'],
  ['Concurrency', 'concurrency'],
  ['MaxFileBytes', 'maxFileBytes'],
  ['MaxLineBytes', 'maxLineBytes'],
  ['LedgerCollection', 'ledgerCollection'],
  ['LogsRetentionDays', 'logsRetentionDays'],
];

function settingsFromFile(file: ConfigFileText): Layer {
  const errors: ParseError[] = [];
  const json: unknown = parseJsonc(file.text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || typeof json !== 'object' || json === null) {
    const first = errors[0];
    const where = first ? ` at offset ${first.offset}: ${printParseErrorCode(first.error)}` : ': not a JSON object';
    throw new UsageError(`config file ${file.path} is not valid JSON${where}`);
  }
  const layer: Layer = {};
  for (const [key, option] of MONGO_KEYS) layer[option] = stringSetting(lookup(json, ['TaskRunner', 'Storage', 'Mongo', key]), file.path, key);
  for (const [key, option] of TOOL_KEYS) {
    const value = lookup(json, ['TaskRunnerBackfill', key]);
    layer[option] = key === 'Source' && typeof value === 'string' ? path.resolve(path.dirname(file.path), value) : value ?? undefined;
  }
  return layer;
}

function stringSetting(value: unknown, file: string, key: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new UsageError(`${file}: TaskRunner:Storage:Mongo:${key} must be a string`);
  return value;
}

/** `TaskRunner__Storage__Mongo__ConnectionString` (any case), as .NET's environment provider reads it. */
function settingsFromEnv(env: Readonly<Record<string, string | undefined>>): Layer {
  const byLowerName = new Map(Object.entries(env).map(([name, value]) => [name.toLowerCase(), value]));
  const layer: Layer = {};
  for (const [key, option] of MONGO_KEYS) {
    const value = byLowerName.get(`taskrunner__storage__mongo__${key.toLowerCase()}`);
    if (value !== undefined && value !== '') layer[option] = value;
  }
  return layer;
}
