import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { CollectionNames } from '../config/collection-names.js';
import type { SchemaCheck } from '../report/schema-check.js';
import { detectServerProfile, schemaServer } from '../server/server-profile.js';
import { checkSchema } from '../write/read-schema.js';

/**
 * The schema check as a part of another report (verify, preflight): read-only; when the schema
 * cannot be read (a user allowed to read documents but not to list collections), the reason is
 * reported instead and the rest of the report stands.
 */
export async function checkSchemaForReport(
  db: Db,
  names: CollectionNames,
  logsRetentionDays: number | undefined,
  logger?: Logger,
): Promise<{ schemaCheck?: SchemaCheck; schemaCheckError?: string }> {
  try {
    return { schemaCheck: await checkSchema(db, names, logsRetentionDays === undefined ? {} : { logsRetentionDays }, schemaServer(await detectServerProfile(db, [names.ledger, names.logs]))) };
  } catch (error) {
    const message = `the schema could not be read: ${(error as Error).message}`;
    logger?.warn(message);
    return { schemaCheckError: message };
  }
}
