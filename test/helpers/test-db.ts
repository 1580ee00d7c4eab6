/**
 * Per-test databases on the server provisioned by global-setup.ts.
 *
 *   const t = await openTestDb('import');
 *   try { ... t.db ...; run CLI with `--mongo-uri ${t.uri}` } finally { await t.drop(); }
 */
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import { inject } from 'vitest';
import { detectServerProfile, type ServerProfile } from '../../src/server/server-profile.js';

export interface TestDb {
  client: MongoClient;
  db: Db;
  dbName: string;
  /** Connection string whose path is `dbName` (query options kept): hand it to a CLI child. */
  uri: string;
  /** Drops the database and closes the client. Idempotent. */
  drop(): Promise<void>;
}

const MAX_DB_NAME = 38;
const SUFFIX_LEN = 10;

/** `prefix` reduced to [a-z0-9_] plus a random suffix; at most 38 characters. */
export function uniqueDbName(prefix: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(SUFFIX_LEN);
  let suffix = '';
  for (const b of bytes) suffix += alphabet[b % alphabet.length];
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_DB_NAME - SUFFIX_LEN - 1);
  return clean ? `${clean}_${suffix}` : `t_${suffix}`;
}

/**
 * Returns `uri` with its database path replaced by `dbName`, keeping hosts and query options.
 * If the URI has credentials and no `authSource`, the original path database (or `admin`) is
 * kept as `authSource`, because the path database is the default authentication database.
 */
export function withDatabase(uri: string, dbName: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/)([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(uri);
  if (!m) throw new Error('withDatabase: not a mongodb:// or mongodb+srv:// connection string');
  const [, scheme = '', authority = '', pathDb = '', query = ''] = m;
  const params = query ? query.split('&').filter((p) => p !== '') : [];
  const hasCredentials = authority.includes('@');
  if (hasCredentials && !params.some((p) => p.toLowerCase().startsWith('authsource='))) {
    params.push(`authSource=${pathDb || 'admin'}`);
  }
  return `${scheme}${authority}/${encodeURIComponent(dbName)}${params.length ? `?${params.join('&')}` : ''}`;
}

export async function openTestDb(prefix: string, clientOptions: MongoClientOptions = {}): Promise<TestDb> {
  const baseUri = inject('mongoUri');
  if (!baseUri) throw new Error('openTestDb: no mongoUri provided; is test/helpers/global-setup.ts configured?');
  const dbName = uniqueDbName(prefix);
  const uri = withDatabase(baseUri, dbName);
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 30_000, ...clientOptions });
  await client.connect();
  const db = client.db(dbName);
  let dropped: Promise<void> | undefined;
  return {
    client,
    db,
    dbName,
    uri,
    drop(): Promise<void> {
      dropped ??= (async () => {
        try {
          await db.dropDatabase();
        } finally {
          await client.close();
        }
      })();
      return dropped;
    },
  };
}

/**
 * The databases one test file opens, dropped together at its end:
 *   const databases = testDatabases();  afterAll(() => databases.dropAll());
 */
export function testDatabases(clientOptions: MongoClientOptions = {}): { open(prefix: string): Promise<TestDb>; dropAll(): Promise<void> } {
  const opened: TestDb[] = [];
  return {
    async open(prefix) {
      const t = await openTestDb(prefix, clientOptions);
      opened.push(t);
      return t;
    },
    async dropAll() {
      await Promise.all(opened.map((t) => t.drop().catch(() => undefined)));
    },
  };
}

/**
 * The server's profile, detected by the same module the tool uses (src/server/server-profile.ts).
 * Given a client, it asks the `admin` database, where FerretDB usually has no collection to explain:
 * the backend is then `unknown`. Given a database holding a collection, the profile is the one the
 * tool itself gets there (FerretDB's backend included).
 */
export async function serverProfileOf(target: MongoClient | Db): Promise<ServerProfile> {
  return detectServerProfile(target instanceof MongoClient ? target.db('admin') : target, []);
}

/** True if the server is FerretDB (by the tool's own server profile). */
export async function isFerretDb(client: MongoClient): Promise<boolean> {
  return (await serverProfileOf(client)).kind === 'ferretdb';
}
