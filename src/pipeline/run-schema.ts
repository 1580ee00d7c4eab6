import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { CollectionNames } from '../config/collection-names.js';
import { BackfillRuntimeError } from '../errors.js';
import type { SchemaReport } from '../report/schema-report.js';
import { TOOL_NAME, TOOL_VERSION } from '../tool-version.js';
import { detectServerProfile, schemaServer } from '../server/server-profile.js';
import { ensureSchema, type SchemaAction } from '../write/ensure-schema.js';
import { checkSchema } from '../write/read-schema.js';

export interface SchemaRunOptions {
  collections: CollectionNames;
  /** The retention the logs timestamp index must have (`--logs-retention-days`); none by default. */
  logsRetentionDays?: number;
  /** Compare only (`--check`): never writes. */
  check: boolean;
}

export interface SchemaRunDependencies {
  db: Db;
  serverLabel: string;
  logger?: Logger;
  now?: () => Date;
}

/**
 * `schema`: the spec's execution order steps 1 and 2 on their own, through the very code import
 * runs first (`ensureSchema`): missing collections with validators, missing indexes unique first,
 * existing ones adopted. Idempotent. With `check`, only compares. The report says what was done,
 * whether it stopped before writing, and the comparison (the CLI's `schemaExitCode` reads them).
 */
export async function runSchema(options: SchemaRunOptions, deps: SchemaRunDependencies): Promise<SchemaReport> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const server = schemaServer(await detectServerProfile(deps.db, [options.collections.ledger]));
  const schemaOptions = options.logsRetentionDays === undefined ? {} : { logsRetentionDays: options.logsRetentionDays };
  let actions: SchemaAction[] = [];
  let stopped: string | null = null;
  if (!options.check) {
    try {
      // Its warnings go to the log: each one is also a line of the comparison below.
      ({ actions } = await ensureSchema(deps.db, options.collections, schemaOptions, (message) => deps.logger?.warn(message), server));
      for (const action of actions) deps.logger?.info({ collection: action.collection, index: action.name, key: action.key }, `${action.action}: ${action.detail}`);
    } catch (error) {
      if (!(error instanceof BackfillRuntimeError && error.code === 'SCHEMA_CONFLICT')) throw error;
      stopped = error.message;
      deps.logger?.error(error.message);
    }
  }
  const check = await checkSchema(deps.db, options.collections, schemaOptions, server);
  return {
    command: 'schema',
    mode: options.check ? 'check' : 'apply',
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    database: { name: deps.db.databaseName, server: deps.serverLabel },
    actions: actions.map((action) => ({ ...action })),
    stopped,
    check,
  };
}
