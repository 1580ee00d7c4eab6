import { describe, expect, it } from 'vitest';
import { checkConnectionStringScheme, userWithoutPassword, withPassword } from '../../../src/config/connection-string.js';
import { secretsOf } from '../../../src/config/redact.js';

describe('connection string checks', () => {
  it('refuses another scheme on one line without the password', () => {
    expect(() => checkConnectionStringScheme('mongodb://h/db')).not.toThrow();
    expect(() => checkConnectionStringScheme('mongodb+srv://h/db')).not.toThrow();
    for (const uri of ['mongdb://user:hunter2@h/db', 'MONGODB://user:hunter2@h/db', 'user:hunter2@h/db', 'http://user:hunter2@h']) {
      let message = '';
      try {
        checkConnectionStringScheme(uri);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, uri).toMatch(/must start with "mongodb:\/\/" or "mongodb\+srv:\/\/"/);
      expect(message).not.toContain('hunter2');
      expect(message).not.toMatch(/\n/);
    }
  });

  it('finds a user without a password when the mechanism needs one', () => {
    expect(userWithoutPassword('mongodb://backfill@h/db')).toBe('backfill');
    expect(userWithoutPassword('mongodb://backfill:@h/db')).toBe('backfill');
    expect(userWithoutPassword('mongodb://back%40fill@h/db?authMechanism=SCRAM-SHA-256')).toBe('back@fill');
    expect(userWithoutPassword('mongodb://backfill:pw@h/db')).toBeUndefined();
    expect(userWithoutPassword('mongodb://h/db')).toBeUndefined();
    expect(userWithoutPassword('mongodb://CN=backfill@h/db?authMechanism=MONGODB-X509')).toBeUndefined();
    expect(userWithoutPassword('mongodb://backfill@h/db?authMechanism=GSSAPI')).toBeUndefined();
  });

  it('adds a typed password percent-encoded, so the scrubber finds it raw and decoded', () => {
    const uri = withPassword('mongodb://backfill@h:1/db?x=1', 'p@ss:w/rd');
    expect(uri).toBe('mongodb://backfill:p%40ss%3Aw%2Frd@h:1/db?x=1');
    expect(secretsOf(uri)).toEqual(expect.arrayContaining(['p%40ss%3Aw%2Frd', 'p@ss:w/rd']));
  });
});
