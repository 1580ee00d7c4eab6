import path from 'node:path';
import { UsageError } from '../errors.js';
import { ENUM_STYLES, type EnumStyle } from '../normalize/enums.js';
import { printable } from '../report/printable.js';
import { DEFAULT_SOURCE_GLOBS, type SourceGlobs } from '../scan/find-source-files.js';
import { DEFAULT_COLLECTION_NAMES, type CollectionNames } from './collection-names.js';
import { DEFAULTS } from './defaults.js';
import { parseConfigFile, type ConfigFileText, type FlatConfig } from './parse-config-file.js';
import { checkedSetting } from './limits.js';
import { databaseInConnectionString, redactConnectionString } from './redact.js';

export type { ConfigFileText } from './parse-config-file.js';

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
  workers?: number;
  overwrite?: boolean;
  logsRetentionDays?: number;
  ledgerCollection?: string;
  /** `--partition`: `K/N`, or `auto` (K from the Kubernetes Indexed Job's JOB_COMPLETION_INDEX). */
  partition?: string;
  /** `--partitions N`: the count for `--partition auto`. */
  partitions?: number | string;
}

/** A setting as given, with where it came from; interpreted later by the one command that uses it. */
export interface GivenSetting {
  value: unknown;
  /** `--partition`, `the environment variable TaskRunnerBackfill__Partition`, `TaskRunnerBackfill:Partition in FILE`. */
  from: string;
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
  /** Worker threads that read and normalize log files; 0: the main thread. */
  workers: number;
  overwrite: boolean;
  logsRetentionDays?: number;
  /**
   * `--partition` and `--partitions` as given: only the import reads them (config/partition-option.ts),
   * so a pod's `TaskRunnerBackfill__Partition=auto` never troubles a `verify` run in that pod.
   */
  partitioning?: { partition?: GivenSetting; partitions?: GivenSetting };
  /** Where the settings came from (the CLI logs it). */
  origin?: ConfigOrigin;
}

/** Where the settings came from, for the log line that says so. */
export interface ConfigOrigin {
  /** The configuration files read, in layering order. */
  files: readonly string[];
  /** Where the connection string came from: `--uri`, an environment variable, or a file's key. */
  uri?: string;
  /** Where the database name came from (`the connection string` when from its path). */
  database?: string;
  /** The .NET environment whose appsettings.{Name}.json files were layered, and where its name came from. */
  environment?: string;
  /** Files not read that the operator may have meant (set by the CLI's loadConfig). */
  notes?: readonly string[];
}

/** One layer's settings by option name, with where each came from and the keys that disagree. */
interface Layer {
  values: Map<string, { value: unknown; from: string }>;
  /** Option name -> why it cannot be decided in this layer (the sections disagree). */
  conflicts: Map<string, string>;
}

/**
 * Precedence: flags > environment > config files (later files win key by key, as .NET layers
 * appsettings.json then appsettings.{Environment}.json) > defaults.
 *
 * From the service's own appsettings: the web service's `TaskRunner:Storage:Mongo` section, and the
 * worker's mirrored one (`Worker:Storage:Mongo`, also accepted as `Worker:TaskRunner:Storage:Mongo`
 * and `TaskRunner:Worker:Storage:Mongo`): ConnectionString, Database, RunsCollection,
 * LogsCollection, ArtifactsCollection, ApprovalsCollection. Both services must use the same
 * database, so when a layer holds several of these sections each key must agree in all of them;
 * a disagreement is a usage error naming both (unless a higher layer sets that key). Keys are
 * matched case-insensitively, `//` comments and trailing commas are allowed (as .NET allows them).
 * The importer's own settings live beside them under `TaskRunnerBackfill` (see the README).
 * Environment: the .NET override form `TaskRunner__Storage__Mongo__ConnectionString`,
 * `Worker__Storage__Mongo__ConnectionString` etc.
 */
export function resolveConfig(
  cli: CliOptions,
  env: Readonly<Record<string, string | undefined>>,
  files: readonly ConfigFileText[],
  cwd: string,
): Readonly<BackfillConfig> {
  const fromFiles = settingsFromFiles(files, cwd);
  const fromEnv = settingsFromEnv(env);
  const sourceOf = (key: string): { value: unknown; from: string } | undefined => {
    const flag = (cli as Record<string, unknown>)[key];
    if (flag !== undefined) return { value: flag, from: `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` };
    for (const layer of [fromEnv, fromFiles]) {
      const conflict = layer.conflicts.get(key);
      if (conflict) throw new UsageError(conflict);
      const setting = layer.values.get(key);
      if (setting !== undefined) return setting;
    }
    return undefined;
  };
  const pick = <T>(key: string): T | undefined => sourceOf(key)?.value as T | undefined;

  const enumStyle = (pick<string>('enumStyle') ?? DEFAULTS.enumStyle).toLowerCase();
  if (!ENUM_STYLES.includes(enumStyle as EnumStyle)) {
    throw new UsageError(`--enum-style must be one of ${ENUM_STYLES.join(', ')} (got "${enumStyle}")`);
  }
  const uriSetting = sourceOf('uri');
  const uri = uriSetting?.value as string | undefined;
  const dbSetting = sourceOf('db');
  const database = (dbSetting?.value as string | undefined) ?? (uri ? databaseInConnectionString(uri) : undefined);
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
    workers: checkedSetting('workers', pick('workers') ?? DEFAULTS.workers),
    overwrite: Boolean(pick('overwrite') ?? false),
    origin: Object.freeze({
      files: files.map((file) => file.path),
      ...(uriSetting ? { uri: uriSetting.from } : {}),
      ...(dbSetting ? { database: dbSetting.from } : database !== undefined ? { database: 'the connection string' } : {}),
    }),
  };
  const retention = pick<number>('logsRetentionDays');
  if (retention !== undefined) config.logsRetentionDays = checkedSetting('logsRetentionDays', retention);
  const partition = sourceOf('partition');
  const partitions = sourceOf('partitions');
  if (partition !== undefined || partitions !== undefined) {
    config.partitioning = Object.freeze({ ...(partition ? { partition } : {}), ...(partitions ? { partitions } : {}) });
  }
  const collectionNames = Object.values(config.collections);
  if (new Set(collectionNames).size !== collectionNames.length) {
    throw new UsageError(`collection names must all differ (got ${collectionNames.join(', ')}); the ledger is never a data collection`);
  }
  return Object.freeze(config);
}

/** The web service's section and the worker's mirrored ones, each a path to a `Mongo` object. */
const MONGO_SECTIONS: ReadonlyArray<{ path: string; service: string }> = [
  { path: 'TaskRunner:Storage:Mongo', service: 'web service' },
  { path: 'Worker:Storage:Mongo', service: 'worker' },
  { path: 'Worker:TaskRunner:Storage:Mongo', service: 'worker' },
  { path: 'TaskRunner:Worker:Storage:Mongo', service: 'worker' },
];

const MONGO_KEYS: ReadonlyArray<[string, string]> = [
  ['ConnectionString', 'uri'],
  ['Database', 'db'],
  ['RunsCollection', 'runsCollection'],
  ['LogsCollection', 'logsCollection'],
  ['ArtifactsCollection', 'artifactsCollection'],
  ['ApprovalsCollection', 'approvalsCollection'],
];

/** How to settle a disagreement from above the configuration files. */
const OVERRIDE_HINT: Readonly<Record<string, string>> = {
  uri: 'or choose with --uri',
  db: 'or choose with --db',
};

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
  ['Workers', 'workers'],
  ['LedgerCollection', 'ledgerCollection'],
  ['LogsRetentionDays', 'logsRetentionDays'],
  ['Partition', 'partition'],
  ['Partitions', 'partitions'],
];

/** The files layered key by key (later wins, as in .NET), then read like one configuration. */
function settingsFromFiles(files: readonly ConfigFileText[], cwd: string): Layer {
  const merged: FlatConfig = new Map();
  for (const file of files) for (const [key, entry] of parseConfigFile(file)) merged.set(key, entry);
  const layer = mongoSettings((key) => {
    const entry = merged.get(key.toLowerCase());
    return entry ? { value: entry.value, from: `${entry.key} in ${entry.file}` } : undefined;
  }, 'file');
  for (const [key, option] of TOOL_KEYS) {
    const entry = merged.get(`taskrunnerbackfill:${key.toLowerCase()}`);
    if (!entry) continue;
    // Source is relative to the file that names it.
    const value = key === 'Source' && typeof entry.value === 'string' ? path.resolve(cwd, path.dirname(entry.file), entry.value) : entry.value;
    layer.values.set(option, { value, from: `${entry.key} in ${entry.file}` });
  }
  return layer;
}

/**
 * `TaskRunner__Storage__Mongo__ConnectionString`, `Worker__Storage__Mongo__...` and the importer's
 * own `TaskRunnerBackfill__BatchSize`, `TaskRunnerBackfill__Partition`, ... (any case), as .NET's
 * environment provider reads them. A relative `TaskRunnerBackfill__Source` is relative to the
 * working directory.
 */
function settingsFromEnv(env: Readonly<Record<string, string | undefined>>): Layer {
  const byPath = new Map<string, { name: string; value: string }>();
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') byPath.set(name.replace(/__/g, ':').toLowerCase(), { name, value });
  }
  const lookup = (key: string): { value: unknown; from: string } | undefined => {
    const variable = byPath.get(key.toLowerCase());
    return variable ? { value: variable.value, from: `the environment variable ${variable.name}` } : undefined;
  };
  const layer = mongoSettings(lookup, 'environment');
  for (const [key, option] of TOOL_KEYS) {
    const setting = lookup(`TaskRunnerBackfill:${key}`);
    if (setting) layer.values.set(option, setting);
  }
  return layer;
}

/**
 * The Mongo settings of one layer from every section that has them. Each key takes the value its
 * sections agree on; sections that disagree make the key a conflict (the web service and the
 * worker must use the same database, and the tool cannot know which one is right).
 */
function mongoSettings(lookup: (key: string) => { value: unknown; from: string } | undefined, layerName: 'file' | 'environment'): Layer {
  const layer: Layer = { values: new Map(), conflicts: new Map() };
  for (const [key, option] of MONGO_KEYS) {
    const found = MONGO_SECTIONS.flatMap((section) => {
      const setting = lookup(`${section.path}:${key}`);
      return setting ? [{ ...setting, service: section.service }] : [];
    });
    const first = found[0];
    if (!first) continue;
    for (const setting of found) {
      if (typeof setting.value !== 'string') throw new UsageError(`${printable(setting.from)}: must be a string (got ${printable(JSON.stringify(setting.value))})`);
    }
    const other = found.find((setting) => setting.value !== first.value);
    if (!other) {
      layer.values.set(option, { value: first.value, from: first.from });
      continue;
    }
    const shown = (value: unknown): string => printable(JSON.stringify(option === 'uri' ? redactConnectionString(String(value)) : value));
    const fix = layerName === 'file' ? 'Make the files agree' : 'Make the variables agree';
    layer.conflicts.set(
      option,
      `the ${first.service}'s and the ${other.service}'s ${key} differ: ${printable(first.from)} is ${shown(first.value)}, ` +
        `${printable(other.from)} is ${shown(other.value)}. Both services must use the same database. ${fix}, ${OVERRIDE_HINT[option] ?? `or set TaskRunner__Storage__Mongo__${key}`}`,
    );
  }
  return layer;
}
