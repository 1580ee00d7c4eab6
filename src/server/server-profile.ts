import type { Db, Document } from 'mongodb';

/**
 * One place for what differs between the servers the tool meets. `detectServerProfile` asks the
 * server once per connection (buildInfo, hello, and for FerretDB an explain that shows its
 * backend); everything server-specific in `src/` reads the profile's named capabilities and
 * limits instead of asking "is this FerretDB?". Real MongoDB gets MongoDB's semantics; the
 * FerretDB numbers below come from measurements over the wire (`node dist/scripts/probe-server.js`,
 * FerretDB v1.24.2, 200,000 log-like documents with the spec's indexes, 2026-11-29; raw outputs in
 * docs/server-probes/).
 */
export interface ServerProfile {
  kind: 'mongodb' | 'ferretdb';
  /** The wire version the server claims (`buildInfo.version`; FerretDB v1.24 claims 7.0.42). */
  version: string;
  /** FerretDB's own version when known (an embedded build answers "unknown"). */
  ferretdbVersion?: string;
  /** FerretDB's storage backend, read from the shape of its explain output. */
  backend?: 'sqlite' | 'postgresql' | 'unknown';
  topology: 'standalone' | 'replicaSet' | 'sharded';
  /** The replica set's name. */
  setName?: string;
  /** False on a secondary or an arbiter: writes would fail. */
  writablePrimary: boolean;
  capabilities: ServerCapabilities;
  writes: WriteLimits;
  reads: ReadStrategy;
}

export interface ServerCapabilities {
  /** `$jsonSchema` collection validators (and so `collMod`). */
  validators: boolean;
  /** TTL indexes (`expireAfterSeconds`). */
  ttlIndexes: boolean;
  /** `partialFilterExpression` indexes. */
  partialIndexes: boolean;
  /** The `sparse` index option has an effect (it is accepted and ignored otherwise). */
  sparseIndexes: boolean;
  /** Multi-document transactions (not used by the tool; reported by preflight). */
  transactions: boolean;
  /** Duplicate-key errors name the index (`keyPattern`, `keyValue`); else attribute by operation index. */
  duplicateKeyDetails: boolean;
}

export interface WriteLimits {
  /**
   * Statements per `update` command (replacements, ledger entries). Also the bound for one
   * `bulkWrite` of replaceOne operations.
   */
  updateStatementsPerCommand: number;
  /** `update` commands one process may have in flight at once (all its writers together). */
  updateCommandsInFlight: number;
  /**
   * An unordered update stops at its first error: after any failure the code must read back
   * which statements were applied (it always does; this says why it must).
   */
  unorderedUpdateStopsAtFirstError: boolean;
}

export interface ReadStrategy {
  /**
   * How stored documents of known keys are best read:
   * - `id-in`: `{_id: {$in: [...]}}` in chunks, served by the `_id` index (MongoDB);
   * - `run-in`: one `{runId: {$in: [...]}}` for all the runs involved: every query is a scan,
   *   so one scan for many keys is the cheapest (FerretDB/SQLite);
   * - `run-each`: one `{runId: X}` per run: equality filters are pushed down to the backend and
   *   are ~100x faster than `$in`, which is never pushed down (FerretDB/PostgreSQL).
   */
  lookup: 'id-in' | 'run-in' | 'run-each';
  /** With `run-each`: above this many runs, one `$in` scan is cheaper than the equality queries. */
  runEachLimit: number;
  /** A comparing read scans the collection: new write batches wait while it runs. */
  pauseWritesDuringLookup: boolean;
  /** Existing log entries gathered before one comparing read (fewer, larger reads where each is a scan). */
  existingEntriesPerLookup: number;
  /** `collStats.count` is exact (else an estimate: correctness checks count with `countDocuments`). */
  exactCollStatsCount: boolean;
}

/**
 * MongoDB: validators, TTL, partial and sparse indexes, transactions on replica sets, duplicate-key
 * details; unordered updates continue past errors; every spec index serves its queries.
 */
export const MONGODB_DEFAULTS: Pick<ServerProfile, 'capabilities' | 'writes' | 'reads'> = Object.freeze({
  capabilities: { validators: true, ttlIndexes: true, partialIndexes: true, sparseIndexes: true, transactions: false, duplicateKeyDetails: true },
  writes: {
    // maxWriteBatchSize is 100,000; 1,000 keeps one command's size and latency small.
    updateStatementsPerCommand: 1000,
    updateCommandsInFlight: 16,
    unorderedUpdateStopsAtFirstError: false,
  },
  reads: { lookup: 'id-in', runEachLimit: 0, pauseWritesDuringLookup: false, existingEntriesPerLookup: 5000, exactCollStatsCount: false },
});

/**
 * The catalogue of FerretDB v1.24.2 facts the tool relies on, each with the measurement behind it
 * (both backends unless said otherwise).
 */
export const FERRETDB_FACTS = Object.freeze({
  /** 238 NotImplemented for `validator`, `collMod`, `expireAfterSeconds`, `partialFilterExpression`. */
  schema: { validators: false, ttlIndexes: false, partialIndexes: false },
  /** `sparse` is accepted, not listed by listIndexes, and without effect (a unique index skips missing fields either way). */
  sparseIndexes: false,
  /** An `$or` of one clause per key is evaluated clause by clause over the whole collection: 1.3 s for 50 clauses on 8,000 documents (SQLite); the tool queries by run instead. */
  orClausesScanEach: true,
  /** Some characters MongoDB allows in database names are refused (code 73 InvalidNamespace; Cyrillic, names starting with `pg_` on PostgreSQL): a usage error. */
  fewerNameCharacters: true,
  /** Transactions: code 9 "unknown field autocommit". */
  transactions: false,
  /** E11000 errors carry no keyPattern/keyValue; unordered inserts do report per-index writeErrors ([1,3] for 4 inserts). */
  duplicateKeyDetails: false,
  /**
   * Update commands: FerretDB holds one backend connection per statement until the command ends,
   * so statements in flight, over every concurrent command, must stay under the connection pool
   * (100 per SQLite database, 50 on PostgreSQL) or the command never answers. Measured: SQLite 99
   * statements answer, 100 hang; 4 concurrent commands of 25 answer, of 40 hang. PostgreSQL 49
   * answer, 50 hang; 4 concurrent of 13 answer, of 25 hang. Ten statements and one command in flight
   * per process leave room for several importers (partitions) on one server.
   */
  updateStatementsPerCommand: 10,
  updateCommandsInFlight: 1,
  /** An unordered update stops at its first error (a duplicate key fails the whole command as code 1). */
  unorderedUpdateStopsAtFirstError: true,
  /**
   * Reads at 200,000 documents, SQLite: every query scans, whatever the index: findOne {_id} 0.66 s,
   * {runId: X} 15.5 s, {runId: {$in: 5 runs}} 15.6 s, {_id: {$in: 1000}} 30.9 s: one `$in` scan for
   * all the runs involved is the cheapest.
   */
  sqliteLookup: 'run-in',
  /**
   * PostgreSQL: equality filters are pushed down (still a sequential scan): {runId: X} 97 ms,
   * {runId, sequence} 62 ms, findOne {_id} 106 ms; `$in` is not pushed down: {runId: {$in: 5 runs}}
   * 7.4 s, {_id: {$in: 1000}} 16.7 s. One query per run wins below ~70 runs.
   */
  postgresqlLookup: 'run-each',
  postgresqlRunEachLimit: 50,
  /** A scan beside inserts slows both (one SQLite writer); the gathered entries are compared in few reads. */
  pauseWritesDuringLookup: true,
  existingEntriesPerLookup: 20_000,
  /** collStats.count: exact on SQLite (0.39 s); on PostgreSQL it comes from planner statistics (999,126 seen for 1,000,000). */
  exactCollStatsCountSqlite: true,
} as const);

/**
 * The first-import throughput `npm run bench` measured (README, "Performance"; default batch size
 * and concurrency): the only rate this project has measured, used by preflight's estimate.
 */
export const MEASURED_IMPORT_RATE = Object.freeze({ documentsPerSecond: 21_500, measuredOn: 'FerretDB v1.24 on SQLite, 2 cores' });

/** The profile of a FerretDB server on the given backend. */
export function ferretDbProfile(backend: ServerProfile['backend']): Pick<ServerProfile, 'capabilities' | 'writes' | 'reads'> {
  const facts = FERRETDB_FACTS;
  const postgresql = backend === 'postgresql';
  return {
    capabilities: {
      ...facts.schema,
      sparseIndexes: facts.sparseIndexes,
      transactions: facts.transactions,
      duplicateKeyDetails: facts.duplicateKeyDetails,
    },
    writes: {
      updateStatementsPerCommand: facts.updateStatementsPerCommand,
      updateCommandsInFlight: facts.updateCommandsInFlight,
      unorderedUpdateStopsAtFirstError: facts.unorderedUpdateStopsAtFirstError,
    },
    reads: {
      lookup: postgresql ? facts.postgresqlLookup : facts.sqliteLookup,
      runEachLimit: postgresql ? facts.postgresqlRunEachLimit : 0,
      pauseWritesDuringLookup: facts.pauseWritesDuringLookup,
      existingEntriesPerLookup: facts.existingEntriesPerLookup,
      exactCollStatsCount: backend === 'sqlite' && facts.exactCollStatsCountSqlite,
    },
  };
}

/** The answers detection is made from (recorded in unit tests for each server). */
export interface ServerAnswers {
  buildInfo: Document;
  hello: Document;
  /** An explain of a find (FerretDB passes its backend's plan through); undefined if it failed. */
  explain?: Document;
}

/** The profile a server's answers describe. Pure. */
export function profileFromAnswers(answers: ServerAnswers): ServerProfile {
  const { buildInfo, hello } = answers;
  const topology = hello.msg === 'isdbgrid' ? 'sharded' : typeof hello.setName === 'string' ? 'replicaSet' : 'standalone';
  const version = String(buildInfo.version ?? 'unknown');
  const member = {
    ...(typeof hello.setName === 'string' ? { setName: hello.setName } : {}),
    // Older servers answer isMaster's `ismaster`; hello's is `isWritablePrimary`.
    writablePrimary: hello.isWritablePrimary === true || hello.ismaster === true,
  };
  if (!Object.hasOwn(buildInfo, 'ferretdbVersion')) {
    return {
      kind: 'mongodb',
      version,
      topology,
      ...member,
      ...MONGODB_DEFAULTS,
      // Transactions need a replica set or a sharded cluster.
      capabilities: { ...MONGODB_DEFAULTS.capabilities, transactions: topology !== 'standalone' },
    };
  }
  const backend = backendFromExplain(answers.explain);
  return { kind: 'ferretdb', version, ferretdbVersion: String(buildInfo.ferretdbVersion), backend, topology, ...member, ...ferretDbProfile(backend) };
}

/** FerretDB's explain carries PostgreSQL's plan ("Node Type") or SQLite's EXPLAIN QUERY PLAN rows ("detail=SCAN ..."). */
function backendFromExplain(explain: Document | undefined): ServerProfile['backend'] {
  if (!explain) return 'unknown';
  const text = JSON.stringify(explain);
  if (text.includes('"Node Type"')) return 'postgresql';
  if (text.includes('detail=')) return 'sqlite';
  return 'unknown';
}

/**
 * Asks the server once: buildInfo, hello and, on FerretDB, an explain of a find that shows its
 * backend. FerretDB explains only on a collection that exists: the first of `probeCollections`
 * that does (the tool's ledger, the data collections); none yet means backend `unknown` (detect
 * again once the schema exists). Explain reads nothing.
 */
export async function detectServerProfile(db: Db, probeCollections: readonly string[]): Promise<ServerProfile> {
  const buildInfo = await db.admin().command({ buildInfo: 1 });
  const hello = await db
    .admin()
    .command({ hello: 1 })
    .catch(() => db.admin().command({ isMaster: 1 }))
    .catch(() => ({}));
  let explain: Document | undefined;
  if (Object.hasOwn(buildInfo, 'ferretdbVersion')) {
    const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((collection) => collection.name));
    const probe = probeCollections.find((name) => existing.has(name)) ?? [...existing].find((name) => !name.startsWith('system.'));
    if (probe !== undefined) {
      explain = await db.command({ explain: { find: probe, filter: { _id: '' } }, verbosity: 'queryPlanner' }).catch(() => undefined);
    }
  }
  return profileFromAnswers({ buildInfo, hello, ...(explain ? { explain } : {}) });
}

const TOPOLOGY_NAMES: Record<ServerProfile['topology'], string> = { standalone: 'standalone', replicaSet: 'replica set', sharded: 'sharded' };

/**
 * One line for logs and reports: `FerretDB on PostgreSQL (MongoDB 7.0.42 compatible, standalone)`,
 * `MongoDB 8.0.4 (replica set rs0)`. The one place that names a server in user-facing text.
 */
export function describeServer(profile: ServerProfile): string {
  const topology = profile.topology === 'replicaSet' && profile.setName ? `replica set ${profile.setName}` : TOPOLOGY_NAMES[profile.topology];
  if (profile.kind === 'mongodb') return `MongoDB ${profile.version} (${topology})`;
  const version = profile.ferretdbVersion && profile.ferretdbVersion !== 'unknown' ? ` ${profile.ferretdbVersion}` : '';
  const backend = profile.backend === 'postgresql' ? 'PostgreSQL' : profile.backend === 'sqlite' ? 'SQLite' : 'an unknown backend';
  return `FerretDB${version} on ${backend} (MongoDB ${profile.version} compatible, ${topology})`;
}

/** What the schema code needs to know of the server. */
export function schemaServer(profile: ServerProfile): Pick<ServerCapabilities, 'validators' | 'ttlIndexes' | 'sparseIndexes'> & { description: string } {
  const { validators, ttlIndexes, sparseIndexes } = profile.capabilities;
  return { description: describeServer(profile), validators, ttlIndexes, sparseIndexes };
}

/** What the server lacks that the spec asks for, in words (empty on MongoDB). */
export function describeMissingFeatures(capabilities: ServerCapabilities): string[] {
  const missing = [
    ...(capabilities.validators ? [] : ['$jsonSchema validators']),
    ...(capabilities.ttlIndexes ? [] : ['TTL indexes']),
    ...(capabilities.partialIndexes ? [] : ['partial indexes']),
  ];
  return [
    ...(missing.length > 0 ? [`The server holds no ${missing.join(', ')}; the import goes on without them (one warning each).`] : []),
    ...(capabilities.sparseIndexes ? [] : ['The server ignores the "sparse" index option (the tenant index is created non-sparse).']),
  ];
}
