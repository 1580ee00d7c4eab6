/**
 * The pure readings behind preflight's server, authentication and write-access lines. FerretDB's
 * answers were recorded from v1.24.2 here; MongoDB's follow its documented shapes (hello of a
 * replica set member and of mongos, connectionStatus with showPrivileges for a readWrite user).
 */
import { describe, expect, it } from 'vitest';
import { authFacts, missingActions, type NeededAction } from '../../../src/preflight/privileges.js';
import { backendFromExplain, describeServerFacts } from '../../../src/preflight/server-facts.js';
import { formatBytes, formatDuration } from '../../../src/report/preflight-report.js';

const FERRETDB_BUILD_INFO = { version: '7.0.42', gitVersion: 'unknown', versionArray: [7, 0, 42, 0], ferretdbVersion: 'unknown', ok: 1 };
const FERRETDB_HELLO = { isWritablePrimary: true, maxBsonObjectSize: 16777216, maxWireVersion: 21, readOnly: false, ok: 1 };
const FERRETDB_CONNECTION_STATUS = { authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 };
const FERRETDB_SQLITE_EXPLAIN = { queryPlanner: { Plan: ['id=2 parent=0 notused=0 detail=SCAN a_e40c292c'] }, explainVersion: '1', ok: 1 };

describe('describeServerFacts', () => {
  it('FerretDB (recorded): kind, versions, standalone, writable', () => {
    expect(describeServerFacts(FERRETDB_BUILD_INFO, FERRETDB_HELLO)).toEqual({ kind: 'ferretdb', version: '7.0.42', ferretdbVersion: 'unknown', topology: 'standalone', writablePrimary: true });
  });

  it('MongoDB: a replica set primary, a secondary, mongos', () => {
    const buildInfo = { version: '7.0.14', gitVersion: 'ce59cfc6a3c5e5c067dca0d30697edd68d4f5188', ok: 1 };
    expect(describeServerFacts(buildInfo, { isWritablePrimary: true, secondary: false, setName: 'rs0', hosts: ['a:27017', 'b:27017'], ok: 1 })).toMatchObject({ kind: 'mongodb', topology: 'replica set', setName: 'rs0', writablePrimary: true });
    expect(describeServerFacts(buildInfo, { isWritablePrimary: false, secondary: true, setName: 'rs0', ok: 1 })).toMatchObject({ topology: 'replica set', writablePrimary: false });
    expect(describeServerFacts(buildInfo, { isWritablePrimary: true, msg: 'isdbgrid', ok: 1 })).toMatchObject({ topology: 'sharded', writablePrimary: true });
    // An old server's isMaster answer.
    expect(describeServerFacts({ version: '4.0.28' }, { ismaster: true, ok: 1 })).toMatchObject({ version: '4.0.28', writablePrimary: true, topology: 'standalone' });
  });
});

describe('backendFromExplain', () => {
  it('SQLite from its plan (recorded), PostgreSQL from its node types, none when there is no plan', () => {
    expect(backendFromExplain(FERRETDB_SQLITE_EXPLAIN)).toBe('SQLite');
    expect(backendFromExplain({ queryPlanner: { Plan: { 'Node Type': 'Seq Scan', 'Relation Name': 'ledger_4a2b' } } })).toBe('PostgreSQL');
    expect(backendFromExplain({ queryPlanner: {}, ok: 1 })).toBeUndefined();
  });
});

describe('authFacts and missingActions', () => {
  const needed: NeededAction[] = [
    { collection: '', action: 'listCollections' },
    { collection: 'pack_runs', action: 'insert' },
    { collection: 'pack_runs', action: 'createIndex' },
    { collection: 'taskrunner_backfill_ledger', action: 'remove' },
  ];

  it('no authentication (FerretDB, recorded): no users, no privileges listed, nothing can be said missing', () => {
    const facts = authFacts(FERRETDB_CONNECTION_STATUS);
    expect(facts).toEqual({ users: [], roles: [] });
    expect(missingActions(facts.privileges, 'taskrunner', needed)).toEqual([]);
  });

  it('a read-only user lacks the writes; readWrite on the database grants them', () => {
    const readOnly = authFacts({
      authInfo: {
        authenticatedUsers: [{ user: 'backfill', db: 'admin' }],
        authenticatedUserRoles: [{ role: 'read', db: 'taskrunner' }],
        authenticatedUserPrivileges: [{ resource: { db: 'taskrunner', collection: '' }, actions: ['find', 'listCollections', 'listIndexes', 'collStats'] }],
      },
      ok: 1,
    });
    expect(readOnly.users).toEqual([{ user: 'backfill', db: 'admin' }]);
    expect(missingActions(readOnly.privileges, 'taskrunner', needed).map((item) => `${item.collection}:${item.action}`)).toEqual([
      'pack_runs:insert',
      'pack_runs:createIndex',
      'taskrunner_backfill_ledger:remove',
    ]);
    const readWrite = authFacts({
      authInfo: {
        authenticatedUsers: [{ user: 'backfill', db: 'admin' }],
        authenticatedUserRoles: [{ role: 'readWrite', db: 'taskrunner' }],
        authenticatedUserPrivileges: [
          { resource: { db: 'taskrunner', collection: '' }, actions: ['createCollection', 'createIndex', 'dropCollection', 'find', 'insert', 'listCollections', 'listIndexes', 'remove', 'update'] },
        ],
      },
      ok: 1,
    });
    expect(missingActions(readWrite.privileges, 'taskrunner', needed)).toEqual([]);
    // Privileges on another database grant nothing here; anyResource grants everything.
    expect(missingActions(readWrite.privileges, 'other', needed)).toHaveLength(4);
    expect(missingActions([{ resource: { anyResource: true }, actions: ['listCollections', 'insert', 'createIndex', 'remove'] }], 'other', needed)).toEqual([]);
  });
});

describe('formatting', () => {
  it('durations and sizes', () => {
    expect(formatDuration(0.2)).toBe('under 1 s');
    expect(formatDuration(47.1)).toBe('47 s');
    expect(formatDuration(250)).toBe('4 min 10 s');
    expect(formatDuration(7500)).toBe('2 h 05 min');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(38 * 1024)).toBe('38.0 KiB');
    expect(formatBytes(3.5 * 1024 ** 3)).toBe('3.5 GiB');
  });
});
