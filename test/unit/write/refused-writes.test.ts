/**
 * How per-document write errors are read. The answers are MongoDB's documented shapes (a
 * validation failure's errInfo since 5.0, a duplicate key's keyPattern/keyValue since 4.2) and
 * FerretDB v1.24.2's duplicate-key answer as recorded here (no keyPattern).
 */
import { MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { classifyWriteError, describeValidationFailure, writeErrorAnswer } from '../../../src/write/refused-writes.js';
import { isTransientError } from '../../../src/server/server-errors.js';

const LOG_KEYS = [{ runId: 1, sequence: 1 }];

/** A $jsonSchema refusal: one property rule and one `required` rule. */
const JSON_SCHEMA_ERR_INFO = {
  failingDocumentId: '6b0cb774d896027497068e73',
  details: {
    operatorName: '$jsonSchema',
    schemaRulesNotSatisfied: [
      {
        operatorName: 'properties',
        propertiesNotSatisfied: [
          {
            propertyName: 'level',
            details: [{ operatorName: 'enum', specifiedAs: { enum: ['trace', 'debug', 'info', 'warn', 'error'] }, reason: 'value was not found in enum', consideredValue: 'fatal' }],
          },
          {
            propertyName: 'sequence',
            details: [{ operatorName: 'bsonType', specifiedAs: { bsonType: 'long' }, reason: 'type did not match', consideredValue: 3, consideredType: 'int' }],
          },
        ],
      },
      { operatorName: 'required', specifiedAs: { required: ['runId', 'tenant'] }, missingProperties: ['tenant'] },
    ],
  },
};

/** A query-operator validator ({ $and: [...] }) refusing one clause. */
const QUERY_OPERATOR_ERR_INFO = {
  failingDocumentId: 'run-7',
  details: {
    operatorName: '$and',
    clausesNotSatisfied: [{ index: 1, details: { operatorName: '$type', specifiedAs: { tenantId: { $type: 'string' } }, reason: 'type did not match', consideredValue: 42, consideredType: 'int' } }],
  },
};

describe('classifyWriteError', () => {
  it('a validation failure (121) is a refusal naming the rules, never "exists"', () => {
    const meaning = classifyWriteError({ code: 121, errmsg: 'Document failed validation', errInfo: JSON_SCHEMA_ERR_INFO }, 'pack_run_logs', LOG_KEYS);
    expect(meaning.kind).toBe('refused');
    if (meaning.kind !== 'refused') return;
    expect(meaning.message).toBe(
      'the validator of pack_run_logs refused it: level: enum (value was not found in enum; found "fatal"; rule {"enum":["trace","debug","info","warn","error"]}); ' +
        'sequence: bsonType (type did not match; found 3 (int); rule {"bsonType":"long"}); required (missing "tenant")',
    );
    expect(meaning.hint).toContain('db.getCollectionInfos({ name: "pack_run_logs" })');
  });

  it('a query-operator validator\'s rule is named too; a server that gives no details says so', () => {
    expect(describeValidationFailure(QUERY_OPERATOR_ERR_INFO)).toBe('$type (type did not match; found 42 (int); rule {"tenantId":{"$type":"string"}})');
    const bare = classifyWriteError({ code: 121, errmsg: 'Document failed validation' }, 'pack_runs', []);
    expect(bare).toMatchObject({ kind: 'refused', message: 'the validator of pack_runs refused it: Document failed validation (the server did not say which rule)' });
  });

  it('many failed rules are cut after four, with the count of the rest', () => {
    const properties = Array.from({ length: 6 }, (_, i) => ({ propertyName: `f${i}`, details: [{ operatorName: 'bsonType', specifiedAs: { bsonType: 'string' }, reason: 'type did not match', consideredValue: i, consideredType: 'int' }] }));
    const text = describeValidationFailure({ details: { operatorName: '$jsonSchema', schemaRulesNotSatisfied: [{ operatorName: 'properties', propertiesNotSatisfied: properties }] } });
    expect(text).toMatch(/^f0: bsonType .*; f3: bsonType .*; and 2 more$/);
  });

  it('a duplicate of the record\'s own key means it exists: no keyPattern (FerretDB), _id, or the spec\'s key', () => {
    // Recorded from FerretDB v1.24.2: { code: 11000, index: 0, errmsg: 'E11000 duplicate key error collection: probe2.a' }.
    expect(classifyWriteError({ code: 11000, errmsg: 'E11000 duplicate key error collection: probe2.a' }, 'pack_run_logs', LOG_KEYS)).toEqual({ kind: 'exists' });
    expect(classifyWriteError({ code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 'x' } }, 'pack_runs', [])).toEqual({ kind: 'exists' });
    expect(classifyWriteError({ code: 11000, keyPattern: { runId: 1, sequence: 1 }, keyValue: { runId: 'r', sequence: 1 } }, 'pack_run_logs', LOG_KEYS)).toEqual({ kind: 'exists' });
  });

  it('a duplicate on a unique index the spec does not have is a refusal naming that index', () => {
    const meaning = classifyWriteError({ code: 11000, keyPattern: { runId: 1 }, keyValue: { runId: 'r-1' } }, 'pack_artifacts', [{ runId: 1, name: 1 }]);
    expect(meaning).toMatchObject({ kind: 'refused', message: 'the unique index { runId: 1 } of pack_artifacts, which the spec does not have, refused it: another document already has {"runId":"r-1"}' });
  });

  it('any other code is a refusal with the server\'s message and code', () => {
    expect(classifyWriteError({ code: 2, errmsg: 'bad value' }, 'pack_runs', [])).toMatchObject({ kind: 'refused', message: 'the server refused it: bad value (code 2)' });
  });

  it('reads the driver\'s WriteError shape (keyPattern sits in the raw error)', () => {
    const answer = writeErrorAnswer({ code: 11000, errmsg: 'E11000', err: { code: 11000, keyPattern: { runId: 1 }, keyValue: { runId: 'a' } } });
    expect(answer).toEqual({ code: 11000, errmsg: 'E11000', keyPattern: { runId: 1 }, keyValue: { runId: 'a' } });
  });
});

describe('a validation failure is never retried', () => {
  it('isTransientError is false for code 121, even with a label a retry would otherwise follow', () => {
    const refused = new MongoServerError({ ok: 0, code: 121, codeName: 'DocumentValidationFailure', errmsg: 'Document failed validation', errInfo: JSON_SCHEMA_ERR_INFO });
    expect(isTransientError(refused)).toBe(false);
    refused.addErrorLabel('RetryableWriteError');
    expect(isTransientError(refused)).toBe(false);
    // The guard is specific: the same label on a stepdown is still transient.
    const stepdown = new MongoServerError({ ok: 0, code: 189, errmsg: 'primary stepped down' });
    expect(isTransientError(stepdown)).toBe(true);
  });
});
