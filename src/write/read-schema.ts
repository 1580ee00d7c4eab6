import { MongoServerError, type Db, type Document } from 'mongodb';
import type { CollectionNames } from '../config/collection-names.js';
import type { SchemaCheck } from '../report/schema-check.js';
import { compareSchema, type ObservedSchema, type SchemaServer } from './compare-schema.js';
import { schemaPlan, type SchemaOptions } from './schema-spec.js';

const NAMESPACE_NOT_FOUND = 26;

/**
 * Reads what the database holds of the planned collections: `listCollections` (with each
 * collection's options, `validator` included) and `listIndexes` of each. Only reads.
 */
export async function readSchema(db: Db, names: CollectionNames): Promise<ObservedSchema> {
  const wanted = [...new Set(Object.values(names))];
  const collections = await db.listCollections({ name: { $in: wanted } }).toArray();
  const indexes = new Map<string, Document[]>();
  for (const entry of collections) {
    if (entry.type !== undefined && entry.type !== 'collection') continue;
    indexes.set(entry.name, await listIndexesOf(db, entry.name));
  }
  return { collections, indexes };
}

/** The indexes of one collection; none when it does not exist (it may have been dropped meanwhile). */
export async function listIndexesOf(db: Db, collection: string): Promise<Document[]> {
  try {
    return (await db.collection(collection).listIndexes().toArray()) as Document[];
  } catch (error) {
    if (error instanceof MongoServerError && error.code === NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}

/** Compares the database with the spec (read-only): the check behind `schema --check`, `verify` and `preflight`. */
export async function checkSchema(db: Db, names: CollectionNames, options: SchemaOptions, server: SchemaServer): Promise<SchemaCheck> {
  return compareSchema(db.databaseName, schemaPlan(names, options), await readSchema(db, names), server);
}
