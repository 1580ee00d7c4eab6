import { UsageError } from '../errors.js';
import type { CollectionNames } from './collection-names.js';

/**
 * MongoDB's naming rules, checked before connecting so a bad name is a usage error naming the rule,
 * not a driver exception or a "cannot reach the server" message. The rules (MongoDB manual, "Limits
 * and Thresholds: Naming Restrictions"): a database name is not empty, has fewer than 64 bytes and
 * none of `/\. "$*<>:|?` nor NUL (the Windows set, which includes the Unix one: a name must work
 * wherever the service's database may live); a collection name is not empty, has no `$` and no NUL,
 * does not start with `system.`, and `database.collection` is at most 255 bytes.
 *
 * Lengths are UTF-8 bytes, as the server counts them. Other Unicode is allowed, as MongoDB allows
 * it (look-alikes such as a fullwidth `．` are different characters and legal there); the server
 * may still refuse what it does not support (some servers accept fewer characters), which `connect`
 * reports as a usage error too.
 */

const DATABASE_FORBIDDEN = ['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0'];
const MAX_DATABASE_BYTES = 63;
const MAX_NAMESPACE_BYTES = 255;

const COLLECTION_SETTINGS: Readonly<Record<keyof CollectionNames, string>> = {
  runs: 'TaskRunner:Storage:Mongo:RunsCollection',
  logs: 'TaskRunner:Storage:Mongo:LogsCollection',
  approvals: 'TaskRunner:Storage:Mongo:ApprovalsCollection',
  artifacts: 'TaskRunner:Storage:Mongo:ArtifactsCollection',
  ledger: '--ledger-collection',
};

/** Throws a UsageError naming the rule when `name` cannot be a MongoDB database name. */
export function checkDatabaseName(name: string, where: string): void {
  const problem = databaseNameProblem(name);
  if (problem) throw new UsageError(`${where} ${show(name)} is not a valid MongoDB database name: ${problem}`);
}

export function databaseNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  const bad = [...new Set([...name].filter((char) => DATABASE_FORBIDDEN.includes(char)))];
  if (bad.length > 0) return `it contains ${bad.map(showChar).join(', ')} (a database name may contain none of / \\ . space " $ * < > : | ? and NUL)`;
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_DATABASE_BYTES) return `it is ${bytes} bytes long (UTF-8); MongoDB allows at most ${MAX_DATABASE_BYTES}`;
  return undefined;
}

export function collectionNameProblem(database: string, name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.includes('$')) return 'it contains "$" (reserved for MongoDB\'s own namespaces)';
  if (name.includes('\0')) return 'it contains the NUL character';
  if (name.startsWith('system.')) return 'names starting with "system." are reserved for MongoDB\'s own collections';
  const bytes = Buffer.byteLength(`${database}.${name}`, 'utf8');
  if (bytes > MAX_NAMESPACE_BYTES) return `"${database}.${name}" is ${bytes} bytes long (UTF-8); MongoDB allows at most ${MAX_NAMESPACE_BYTES} for database and collection name together`;
  return undefined;
}

/**
 * Checks the target database, the database named in the connection string's path (the driver's
 * default authentication database) and the five collection names, wherever they came from.
 */
export function checkDatabaseNames(target: { database: string; uriDatabase?: string; collections: CollectionNames }): void {
  checkDatabaseName(target.database, 'the database name');
  if (target.uriDatabase !== undefined && target.uriDatabase !== target.database) {
    checkDatabaseName(target.uriDatabase, 'the database in the connection string');
  }
  for (const [role, name] of Object.entries(target.collections) as Array<[keyof CollectionNames, string]>) {
    const problem = collectionNameProblem(target.database, name);
    if (problem) throw new UsageError(`the ${role} collection name ${show(name)} (${COLLECTION_SETTINGS[role]}) is not valid: ${problem}`);
  }
}

/** Non-ASCII characters of a name, as `U+0430 "а"`, for a warning: look-alikes select another database. */
export function nonAsciiCharacters(name: string): string[] {
  return [...new Set([...name].filter((char) => char > '\u007f'))].map((char) => `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} "${char}"`);
}

function show(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}...` : name);
}

function showChar(char: string): string {
  return char === '\0' ? 'NUL' : char === ' ' ? 'a space' : `"${char}"`;
}
