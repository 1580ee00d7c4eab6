import type { Db, Document } from 'mongodb';

/** What the server says about itself (buildInfo, hello), for the preflight checklist. */
export interface ServerFacts {
  kind: 'mongodb' | 'ferretdb';
  /** The MongoDB version the server reports (FerretDB: the version it is compatible with). */
  version: string;
  /** FerretDB's own version (`buildInfo.ferretdbVersion`; `unknown` when embedded). */
  ferretdbVersion?: string;
  /** FerretDB's storage backend, when it can be told (its query plan is SQLite's or PostgreSQL's). */
  backend?: string;
  topology: 'standalone' | 'replica set' | 'sharded';
  /** The replica set's name. */
  setName?: string;
  /** False on a secondary (or an arbiter): writes would fail. */
  writablePrimary: boolean;
}

/** Reads the facts from recorded `buildInfo` and `hello` answers. Pure. */
export function describeServerFacts(buildInfo: Document, hello: Document): ServerFacts {
  const ferret = Object.hasOwn(buildInfo, 'ferretdbVersion');
  const topology = hello.msg === 'isdbgrid' ? 'sharded' : typeof hello.setName === 'string' ? 'replica set' : 'standalone';
  return {
    kind: ferret ? 'ferretdb' : 'mongodb',
    version: String(buildInfo.version ?? 'unknown'),
    ...(ferret ? { ferretdbVersion: String(buildInfo.ferretdbVersion) } : {}),
    topology,
    ...(typeof hello.setName === 'string' ? { setName: hello.setName } : {}),
    // Older servers answer isMaster's `ismaster`; hello's is `isWritablePrimary`.
    writablePrimary: hello.isWritablePrimary === true || hello.ismaster === true,
  };
}

/**
 * FerretDB's backend from an `explain` answer: FerretDB passes the backend's own plan through,
 * and SQLite's (`SCAN t`, `SEARCH t USING INDEX`) and PostgreSQL's (`Seq Scan`, `Index Scan`,
 * `Node Type`) read differently. Undefined when the plan says neither.
 */
export function backendFromExplain(explain: Document): string | undefined {
  const plan = JSON.stringify(explain.queryPlanner ?? {});
  if (/Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Node Type/.test(plan)) return 'PostgreSQL';
  if (/\b(SCAN|SEARCH) \S+/.test(plan)) return 'SQLite';
  return undefined;
}

/** Asks the server (buildInfo, hello). Only reads. */
export async function readServerFacts(db: Db): Promise<ServerFacts> {
  const buildInfo = await db.admin().command({ buildInfo: 1 });
  const hello = await db.admin().command({ hello: 1 }).catch(() => db.admin().command({ isMaster: 1 }));
  return describeServerFacts(buildInfo, hello);
}

/**
 * FerretDB's backend, from the plan of a query on the first of `collections` that exists (a
 * collection that does not exist has no plan). Only reads; undefined when it cannot be told.
 */
export async function detectFerretDbBackend(db: Db, collections: readonly string[]): Promise<string | undefined> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((entry) => entry.name));
  for (const name of collections) {
    if (!existing.has(name)) continue;
    const backend = backendFromExplain(await db.command({ explain: { find: name, filter: { _id: '' } } }).catch(() => ({})));
    if (backend) return backend;
  }
  return undefined;
}
