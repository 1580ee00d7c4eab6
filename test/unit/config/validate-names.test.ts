import { describe, expect, it } from 'vitest';
import { DEFAULT_COLLECTION_NAMES } from '../../../src/config/collection-names.js';
import { checkDatabaseNames, collectionNameProblem, databaseNameProblem, nonAsciiCharacters } from '../../../src/config/validate-names.js';
import { UsageError } from '../../../src/errors.js';

describe('database names (MongoDB naming restrictions)', () => {
  it('refuses empty names, the reserved characters and NUL', () => {
    expect(databaseNameProblem('')).toBe('it is empty');
    for (const char of ['/', '\\', '.', ' ', '"', '$', '*', '<', '>', ':', '|', '?', '\0']) {
      expect(databaseNameProblem(`a${char}b`), JSON.stringify(char)).toMatch(/it contains/);
    }
    expect(databaseNameProblem('taskrunner_prod-2')).toBeUndefined();
  });

  it('counts UTF-8 bytes, not characters: fewer than 64', () => {
    expect(databaseNameProblem('a'.repeat(63))).toBeUndefined();
    expect(databaseNameProblem('a'.repeat(64))).toMatch(/64 bytes/);
    // 22 fullwidth letters are 22 characters but 66 bytes.
    expect(databaseNameProblem('ａ'.repeat(22))).toMatch(/66 bytes/);
    expect(databaseNameProblem('é'.repeat(32))).toMatch(/64 bytes/);
  });

  it('lets look-alikes of forbidden characters through (MongoDB allows them) and names them for a warning', () => {
    expect(databaseNameProblem('a．b')).toBeUndefined(); // U+FF0E, not "."
    expect(nonAsciiCharacters('tаsk')).toEqual(['U+0430 "а"']);
    expect(nonAsciiCharacters('task')).toEqual([]);
  });
});

describe('collection names', () => {
  it('refuses empty, "$", NUL and "system." names', () => {
    expect(collectionNameProblem('db', '')).toBe('it is empty');
    expect(collectionNameProblem('db', '$ledger')).toMatch(/"\$"/);
    expect(collectionNameProblem('db', 'a\0b')).toMatch(/NUL/);
    expect(collectionNameProblem('db', 'system.profile')).toMatch(/system\./);
    expect(collectionNameProblem('db', 'systems')).toBeUndefined();
    expect(collectionNameProblem('db', 'pack.runs')).toBeUndefined();
  });

  it('limits database.collection to 255 bytes', () => {
    expect(collectionNameProblem('db', 'c'.repeat(252))).toBeUndefined(); // 2 + 1 + 252
    expect(collectionNameProblem('db', 'c'.repeat(253))).toMatch(/256 bytes/);
  });

  it('checks all five names and the connection string database, naming the setting', () => {
    const collections = { ...DEFAULT_COLLECTION_NAMES, logs: 'system.logs' };
    expect(() => checkDatabaseNames({ database: 'ok', collections })).toThrow(/logs collection name "system.logs" \(TaskRunner:Storage:Mongo:LogsCollection\)/);
    expect(() => checkDatabaseNames({ database: 'ok', collections: { ...DEFAULT_COLLECTION_NAMES, ledger: '' } })).toThrow(/--ledger-collection/);
    expect(() => checkDatabaseNames({ database: 'ok', uriDatabase: 'a b', collections: DEFAULT_COLLECTION_NAMES })).toThrow(/database in the connection string "a b"/);
    expect(() => checkDatabaseNames({ database: 'a.b', collections: DEFAULT_COLLECTION_NAMES })).toThrow(UsageError);
    expect(() => checkDatabaseNames({ database: 'ok', uriDatabase: 'ok', collections: DEFAULT_COLLECTION_NAMES })).not.toThrow();
  });
});
