import { MongoClient, MongoMissingDependencyError, type Db } from 'mongodb';
import { BackfillRuntimeError, UsageError } from '../errors.js';
import { redactConnectionString, scrub, secretsOf } from '../config/redact.js';
import { isAuthError } from '../server/server-errors.js';
import { isSingleExecutable } from '../runtime/installation.js';

/** The server's error code for a database or collection name it does not accept. */
const INVALID_NAMESPACE = 73;

export interface Connection {
  client: MongoClient;
  db: Db;
  serverLabel: string;
}

/**
 * Connects and checks the server answers. `useBigInt64` makes Int64 values read back as bigint,
 * so `sequence` round-trips with its BSON type. TLS options (tls, tlsCAFile, tlsCertificateKeyFile)
 * go through the URI or the --tls-* flags.
 */
export async function connect(
  uri: string,
  database: string,
  tls: { caFile?: string; certificateKeyFile?: string },
): Promise<Connection> {
  const secrets = secretsOf(uri);
  let client: MongoClient;
  try {
    client = new MongoClient(uri, {
      useBigInt64: true,
      appName: 'taskrunner-backfill',
      // A default only: the driver lets these options override the URI, and the operator's
      // `?serverSelectionTimeoutMS=` must win.
      ...(/[?&]serverSelectionTimeoutMS=/i.test(uri) ? {} : { serverSelectionTimeoutMS: 15_000 }),
      ...(tls.caFile ? { tls: true, tlsCAFile: tls.caFile } : {}),
      ...(tls.certificateKeyFile ? { tls: true, tlsCertificateKeyFile: tls.certificateKeyFile } : {}),
    });
  } catch (error) {
    // The constructor only parses (no I/O), so whatever it refuses is the operator's input. Its
    // parse errors are not all MongoParseError instances (mongodb-connection-string-url has its own).
    throw new UsageError(`the connection string is not valid: ${scrub((error as Error).message, secrets)}; check --uri, TaskRunner:Storage:Mongo:ConnectionString or TaskRunner__Storage__Mongo__ConnectionString`);
  }
  const db = client.db(database);
  try {
    await client.connect();
    await db.command({ ping: 1 });
  } catch (error) {
    await client.close().catch(() => undefined);
    const message = scrub((error as Error).message, secrets);
    // The server answered, and refuses the name (some servers accept fewer characters than MongoDB).
    if ((error as { code?: unknown }).code === INVALID_NAMESPACE) {
      throw new UsageError(`the server refuses the database name ${JSON.stringify(database)}: ${message}; choose a name of letters, digits, "_" and "-"`);
    }
    const missing = missingDriverModule(error);
    if (missing) {
      const remedy = isSingleExecutable()
        ? `The single executable holds none of the MongoDB driver's optional modules: for this connection run the npm package (Node.js >= 20.19) with ${missing.dependencyName} installed beside it`
        : `Install it where taskrunner-backfill is installed (npm install ${missing.dependencyName})`;
      throw new BackfillRuntimeError('DRIVER_MODULE_MISSING', `connecting to ${redactConnectionString(uri)} needs a module this installation does not have: ${scrub(missing.message, secrets)}. ${remedy}.`, { cause: error });
    }
    if (isAuthError(error) || /auth/i.test(message)) {
      throw new BackfillRuntimeError('DB_AUTH_FAILED', `authentication to ${redactConnectionString(uri)} failed: ${message}. Check the user, password and authSource.`);
    }
    throw new BackfillRuntimeError('DB_CONNECT_FAILED', `cannot reach ${redactConnectionString(uri)}: ${message}. Check the host, port, TLS options and that the server is running.`);
  }
  return { client, db, serverLabel: redactConnectionString(uri) };
}

/**
 * The driver's "optional module not found" error (kerberos for GSSAPI, snappy or zstd compression,
 * socks, the AWS and GCP credential modules, client-side encryption), wherever it sits in the cause chain.
 */
function missingDriverModule(error: unknown): MongoMissingDependencyError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth += 1) {
    if (current instanceof MongoMissingDependencyError) return current;
  }
  return undefined;
}
