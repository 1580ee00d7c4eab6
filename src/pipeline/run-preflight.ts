import { hostname } from 'node:os';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import type { CollectionNames } from '../config/collection-names.js';
import { BackfillRuntimeError } from '../errors.js';
import { LedgerStore } from '../ledger/ledger-store.js';
import type { LedgerFileEntry } from '../ledger/ledger-types.js';
import { authFacts, missingActions, type AuthFacts, type NeededAction } from '../preflight/privileges.js';
import { MEASURED_IMPORT_RATE, describeMissingFeatures, describeServer, detectServerProfile, schemaServer, type ServerProfile } from '../server/server-profile.js';
import { surveySource, type SourceSurvey } from '../preflight/source-survey.js';
import { probeWrite, type WriteProbeResult } from '../preflight/write-probe.js';
import { formatBytes, formatDuration, type PreflightCheck, type PreflightCheckId, type PreflightReport, type PreflightStatus } from '../report/preflight-report.js';
import { describeSchemaItem, notableSchemaItems, schemaVerdictLine, type SchemaCheck } from '../report/schema-check.js';
import { COLLECTION_ROLES } from '../domain/collection-roles.js';
import type { SourceReadOptions } from '../read/source-options.js';
import { TOOL_NAME, TOOL_VERSION } from '../tool-version.js';
import { schemaConflictError } from '../write/ensure-schema.js';
import { checkSchema } from '../write/read-schema.js';

/** The first-import rate the estimate uses: the only one measured (see the server profile's catalogue). */
export const MEASURED_DOCUMENTS_PER_SECOND = MEASURED_IMPORT_RATE.documentsPerSecond;

export interface PreflightOptions extends SourceReadOptions {
  collections: CollectionNames;
  /** The retention the logs timestamp index should have (`--logs-retention-days`); none by default. */
  logsRetentionDays?: number;
}

export interface PreflightConnection {
  db: Db;
  close(): Promise<void>;
}

export interface PreflightDependencies {
  /** Opens the connection; throws BackfillRuntimeError DB_CONNECT_FAILED or DB_AUTH_FAILED when it cannot. */
  connect: () => Promise<PreflightConnection>;
  databaseName: string;
  /** Server description for the report, credentials already removed. */
  serverLabel: string;
  logger?: Logger;
  now?: () => Date;
}

const TITLES: Readonly<Record<PreflightCheckId, string>> = {
  connection: 'connection',
  authentication: 'authentication',
  server: 'server',
  'write-access': 'write access',
  schema: 'schema',
  source: 'source tree',
  attribution: 'run attribution',
  ledger: 'ledger and lease',
  estimate: 'estimate',
};

/**
 * `preflight`: the checklist an operator runs first in the change window. Every line is checked
 * even when an earlier one fails (the source is read without the database; the database lines
 * are skipped only without a connection), so one run shows everything to fix. Writes nothing but
 * one probe document in the importer's ledger collection, deleted at once.
 */
export async function runPreflight(options: PreflightOptions, deps: PreflightDependencies): Promise<PreflightReport> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const checks = new Map<PreflightCheckId, PreflightCheck>();
  const put = (id: PreflightCheckId, status: PreflightStatus, summary: string, details: string[] = []): void => {
    checks.set(id, { id, title: TITLES[id], status, summary, details });
  };

  deps.logger?.info({ source: options.source }, 'reading the source (state, approvals and manifest files; log lines counted)');
  const survey = await surveySource(options);
  sourceChecks(survey, put);

  let schemaCheck: SchemaCheck | undefined;
  let unreachable = false;
  let connection: PreflightConnection | undefined;
  const started = Date.now();
  try {
    connection = await deps.connect();
    put('connection', 'pass', `connected and answered ping in ${Date.now() - started} ms`);
  } catch (error) {
    if (!(error instanceof BackfillRuntimeError) || (error.code !== 'DB_CONNECT_FAILED' && error.code !== 'DB_AUTH_FAILED')) throw error;
    unreachable = true;
    if (error.code === 'DB_AUTH_FAILED') {
      put('connection', 'pass', 'the server answered');
      put('authentication', 'fail', error.message);
    } else {
      put('connection', 'fail', error.message);
      put('authentication', 'skip', 'no connection');
    }
    for (const id of ['server', 'write-access', 'schema', 'ledger'] as const) put(id, 'skip', 'no connection');
  }

  if (connection) {
    try {
      const db = connection.db;
      const auth = await readAuth(db);
      authCheck(auth, put);
      const probeCollections = [options.collections.ledger, ...COLLECTION_ROLES.map((role) => options.collections[role])];
      let server = await detectServerProfile(db, probeCollections);
      // Read before the write probe, which may create the ledger collection.
      try {
        schemaCheck = await checkSchema(db, options.collections, options.logsRetentionDays === undefined ? {} : { logsRetentionDays: options.logsRetentionDays }, schemaServer(server));
        schemaChecks(schemaCheck, put);
      } catch (error) {
        put('schema', 'warn', `the schema could not be read: ${(error as Error).message}`);
      }
      const ledgerExisted = schemaCheck?.items.some((item) => item.kind === 'ledger' && item.status !== 'missing') ?? true;
      if (ledgerExisted) await ledgerCheck(db, options.collections.ledger, survey, now(), put);
      else put('ledger', 'pass', `no import has run yet (no ${options.collections.ledger} collection)`);
      const probe = await probeWrite(db, options.collections.ledger, ledgerExisted, { host: hostname(), pid: process.pid });
      writeCheck(probe, auth, deps.databaseName, neededActions(options.collections, schemaCheck), options.collections.ledger, put);
      // After the probe the ledger collection exists: a server that shows its backend only in the plan of a query on one can tell it now.
      if (server.backend === 'unknown') server = await detectServerProfile(db, probeCollections);
      serverCheck(server, put);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }

  const estimate = estimateCheck(survey, put);
  const order: PreflightCheckId[] = ['connection', 'authentication', 'server', 'write-access', 'schema', 'source', 'attribution', 'ledger', 'estimate'];
  const list = order.map((id) => checks.get(id)).filter((check): check is PreflightCheck => check !== undefined);
  const counts: Record<PreflightStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const check of list) counts[check.status] += 1;
  const passed = counts.fail === 0;
  return {
    command: 'preflight',
    tool: { name: TOOL_NAME, version: TOOL_VERSION },
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    source: options.source,
    database: { name: deps.databaseName, server: deps.serverLabel },
    checks: list,
    ...(schemaCheck ? { schemaCheck } : {}),
    ...(estimate ? { estimate } : {}),
    counts,
    connected: !unreachable,
    passed,
  };
}

type Put = (id: PreflightCheckId, status: PreflightStatus, summary: string, details?: string[]) => void;

async function readAuth(db: Db): Promise<AuthFacts> {
  return authFacts(await db.admin().command({ connectionStatus: 1, showPrivileges: true }));
}

function authCheck(auth: AuthFacts, put: Put): void {
  if (auth.users.length === 0) {
    put('authentication', 'warn', 'connected without authentication: the server did not ask for credentials (usual for a test server, rare in production)');
    return;
  }
  const users = auth.users.map((user) => `${user.user}@${user.db}`).join(', ');
  const roles = auth.roles.map((role) => `${role.role}@${role.db}`).join(', ');
  put('authentication', 'pass', `authenticated as ${users}${roles ? ` (roles: ${roles})` : ''}`);
}

function serverCheck(server: ServerProfile, put: Put): void {
  const description = describeServer(server);
  if (!server.writablePrimary) {
    put('server', 'fail', `${description}: this member is not the primary, writes would fail`, [
      'Connect to the replica set (list its members, or use its mongodb+srv:// name) rather than to one secondary.',
    ]);
    return;
  }
  const details = [
    ...describeMissingFeatures(server.capabilities),
    ...(server.reads.lookup === 'id-in' ? [] : ['Log entries met again after an interrupted import are compared by a read that scans the collection (where the _id index serves queries, it is a lookup).']),
  ];
  if (details.length > 0) {
    put('server', 'warn', description, details);
    return;
  }
  const major = Number.parseInt(server.version, 10);
  if (Number.isFinite(major) && major < 5) {
    put('server', 'warn', description, ['Before 5.0 the server does not say which validator rule refused a document: such rejections will not name the rule.']);
    return;
  }
  put('server', 'pass', description);
}

function schemaChecks(check: SchemaCheck, put: Put): void {
  const notable = notableSchemaItems(check).filter((item) => !(item.kind === 'ledger' && item.status === 'missing') && !(item.kind === 'validator' && item.severity === 'ok'));
  if (check.blocksImport) {
    put('schema', 'fail', 'an existing collection or index differs from the spec where it matters: import would stop before writing', schemaConflictError(check).message.split('\n').slice(1, -1).map((line) => line.trim()));
    return;
  }
  const missing = check.items.filter((item) => item.status === 'missing' && item.severity === 'fail');
  const collections = missing.filter((item) => item.kind === 'collection').map((item) => item.collection);
  const indexes = missing.filter((item) => item.kind === 'index').map((item) => `${item.collection} ${item.key ?? ''}${item.failsVerify ? ' (unique)' : ''}`);
  const details = [
    ...(collections.length > 0 ? [`Missing collections: ${collections.join(', ')}.`] : []),
    ...(indexes.length > 0 ? [`Missing indexes: ${indexes.join(', ')}.`] : []),
    ...notable.filter((item) => !missing.includes(item)).map(describeSchemaItem),
    ...check.warnings,
  ];
  if (missing.length > 0) {
    put('schema', 'warn', `${missing.length} collection(s) or index(es) missing: \`schema\` or the import creates them (the spec's baseline migration seems not applied)`, details);
    return;
  }
  put('schema', check.counts.warnings > 0 ? 'warn' : 'pass', schemaVerdictLine(check), details);
}

async function ledgerCheck(db: Db, ledgerName: string, survey: SourceSurvey, now: Date, put: Put): Promise<void> {
  const ledger = new LedgerStore(db, ledgerName);
  const statuses = await ledger.fileStatusCounts();
  const sessions = await ledger.sessions(1);
  const leases = await ledger.leases();
  const details: string[] = [];
  let status: PreflightStatus = 'pass';
  const byStatus = new Map<string, number>();
  for (const row of statuses) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + row.files);
  const files = [...byStatus].map(([name, count]) => `${count} ${name}`).join(', ');

  // Files done and unchanged since (same size and mtime): a re-run skips them.
  let unchanged = 0;
  const partitions = [...new Set(statuses.map((row) => row.partition))];
  if (survey.inventory && partitions.length > 0) {
    const entries = new Map<string, LedgerFileEntry>();
    for (const partition of partitions) for (const [id, entry] of await ledger.loadFiles(partition)) entries.set(id, entry);
    for (const role of COLLECTION_ROLES) {
      for (const file of survey.inventory.files[role]) {
        const done = partitions.some((partition) => {
          const entry = entries.get(LedgerStore.fileEntryId(partition, file));
          return entry?.status === 'done' && entry.size === file.size && entry.mtimeMs === file.mtimeMs;
        });
        if (done) unchanged += 1;
      }
    }
  }
  const sourceFiles = COLLECTION_ROLES.reduce((sum, role) => sum + survey.files[role], 0);
  for (const lease of leases) {
    const live = lease.expiresAt.getTime() > now.getTime();
    if (live) {
      status = 'warn';
      details.push(
        `Lease ${lease.partition} HELD by ${lease.host} pid ${lease.pid} (session ${lease.sessionId}) until ${lease.expiresAt.toISOString()}: an import is running ` +
          '(or died on another machine; its lease then expires by itself). Another import of that partition refuses until then.',
      );
    } else {
      details.push(`Lease ${lease.partition} expired at ${lease.expiresAt.toISOString()} (${lease.host} pid ${lease.pid}): free.`);
    }
  }
  const last = sessions[0];
  if (last) {
    details.push(`Last session: ${last.outcome}, started ${last.startedAt.toISOString()}${last.finishedAt ? `, finished ${last.finishedAt.toISOString()}` : ''} on ${last.host}, partition ${last.partition}.`);
    const liveLease = leases.some((lease) => lease.sessionId === last.sessionId && lease.expiresAt.getTime() > now.getTime());
    if (last.outcome === 'failed' || last.outcome === 'interrupted' || (last.outcome === 'running' && !liveLease)) {
      status = 'warn';
      details.push('It did not finish: the import resumes where it stopped when run again.');
    }
  }
  const summary = statuses.length === 0
    ? 'no file imported yet'
    : `${files} file entries${sourceFiles > 0 && !survey.problem ? `; ${unchanged} of the ${sourceFiles} source files are done and unchanged (a re-run skips them)` : ''}`;
  put('ledger', status, sessions.length === 0 && statuses.length === 0 && leases.length === 0 ? 'no import has run yet (the ledger is empty)' : summary, details);
}

/** What the import needs to do: read and write every collection, and create what is missing. */
function neededActions(names: CollectionNames, check: SchemaCheck | undefined): NeededAction[] {
  const needed: NeededAction[] = [{ collection: '', action: 'listCollections' }];
  for (const collection of [...COLLECTION_ROLES.map((role) => names[role]), names.ledger]) {
    for (const action of ['find', 'insert', 'update', 'remove', 'listIndexes']) needed.push({ collection, action });
  }
  for (const item of check?.items ?? []) {
    if (item.status !== 'missing' || item.severity !== 'fail') continue;
    if (item.kind === 'collection') needed.push({ collection: item.collection, action: 'createCollection' });
    if (item.kind === 'index') needed.push({ collection: item.collection, action: 'createIndex' });
  }
  return [...new Map(needed.map((item) => [`${item.collection}\u0000${item.action}`, item])).values()];
}

function writeCheck(probe: WriteProbeResult, auth: AuthFacts, database: string, needed: NeededAction[], ledger: string, put: Put): void {
  const details: string[] = [];
  const missing = missingActions(auth.privileges, database, needed);
  if (auth.privileges === undefined) details.push('The server lists no privileges for this connection (no authentication, or a server without user management): the probe is the test.');
  else if (missing.length === 0) details.push(`The listed privileges grant every action the import needs (${[...new Set(needed.map((item) => item.action))].join(', ')}).`);
  else details.push(`Missing privileges: ${missing.map((item) => `${item.action} on ${item.collection === '' ? `the database ${database}` : item.collection}`).join(', ')}.`);
  if (!probe.ok) {
    put('write-access', 'fail', `cannot ${probe.step} in ${ledger}: ${probe.error}`, [...details, 'The import writes there first (lease, session). Grant readWrite on the database (and createIndex, createCollection while the schema is incomplete).']);
    return;
  }
  const summary = `wrote and deleted a probe document in ${ledger} (${probe.ms} ms)${probe.createdCollection ? '; that created the collection, as the first import would' : ''}`;
  if (missing.length > 0) {
    put('write-access', 'fail', summary, [...details, 'Grant them (readWrite on the database covers reading and writing; createIndex and createCollection are needed while the schema is incomplete), or run `schema` once with a user who has them.']);
    return;
  }
  put('write-access', 'pass', summary, details);
}

function sourceChecks(survey: SourceSurvey, put: Put): void {
  const { files } = survey;
  const bytes = COLLECTION_ROLES.reduce((sum, role) => sum + survey.bytes[role], 0);
  const counted = `${files.runs} run state, ${files.logs} log, ${files.approvals} approvals, ${files.artifacts} artifact manifest file(s) (${formatBytes(bytes)}); ${files.ignored} other file(s) ignored`;
  if (survey.problem) {
    put('source', 'fail', survey.problem, survey.inventory ? [`Found: ${counted}.`] : []);
  } else if (files.unreadable > 0) {
    put('source', 'warn', counted, [`${files.unreadable} matched path(s) cannot be read (directory, broken link, permissions): each is rejected as unreadable.`]);
  } else {
    put('source', 'pass', counted);
  }
  if (!survey.inventory || survey.problem) {
    put('attribution', 'skip', 'the source tree failed');
    return;
  }
  const details: string[] = [];
  if (survey.orphanRunIds.length > 0) details.push(`Orphans (log or approvals files with no state file; imported under the file-name runId): ${shortList(survey.orphanRunIds)}.`);
  if (survey.ambiguousFiles.length > 0) details.push(`Ambiguous names (match two runs; not imported): ${shortList(survey.ambiguousFiles)}.`);
  if (survey.normalizedFiles > 0) details.push(`${survey.normalizedFiles} file(s) match their run only in Unicode NFC (a copy through macOS); attributed to it.`);
  if (survey.rejected > 0) details.push(`${survey.rejected} rejection(s) in state, approvals and manifest files; \`plan\` lists them all, with the log lines' own.`);
  const status: PreflightStatus = details.length > 0 ? 'warn' : 'pass';
  put('attribution', status, details.length > 0 ? `${survey.orphanRunIds.length} orphan run(s), ${survey.ambiguousFiles.length} ambiguous file(s), ${survey.rejected} rejection(s) outside the logs` : 'every log and approvals file matches one run', details);
}

function estimateCheck(survey: SourceSurvey, put: Put): PreflightReport['estimate'] {
  if (!survey.inventory || survey.problem) {
    put('estimate', 'skip', 'the source tree failed');
    return undefined;
  }
  const records = COLLECTION_ROLES.reduce((sum, role) => sum + survey.records[role], 0);
  const bytes = COLLECTION_ROLES.reduce((sum, role) => sum + survey.bytes[role], 0);
  const seconds = records / MEASURED_DOCUMENTS_PER_SECOND;
  put('estimate', 'pass', `about ${records.toLocaleString('en-US')} records (${formatBytes(bytes)}): a first import takes ${seconds < 1 ? '' : 'about '}${formatDuration(seconds)}`, [
    `${survey.records.runs} runs, ${survey.records.approvals} approvals, ${survey.records.artifacts} artifacts (parsed); ${survey.records.logs} log lines (counted, not parsed: blank and broken lines included).`,
    `Duration at ${MEASURED_DOCUMENTS_PER_SECOND.toLocaleString('en-US')} documents/s, the first-import rate measured by \`npm run bench\` (${MEASURED_IMPORT_RATE.measuredOn}). A MongoDB server is usually faster; network latency and the server's load make it slower. A re-run of an unchanged tree measured 0.04 of a first import.`,
  ]);
  return { records, bytes, seconds: Math.round(seconds * 10) / 10, documentsPerSecond: MEASURED_DOCUMENTS_PER_SECOND };
}

function shortList(items: readonly string[], shown = 10): string {
  return items.slice(0, shown).join(', ') + (items.length > shown ? `, ... (${items.length - shown} more)` : '');
}
