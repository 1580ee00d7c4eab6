import type { Document } from 'mongodb';
import { formatKey } from './schema-spec.js';
import { sameKey } from './compare-schema.js';
import { DOCUMENT_VALIDATION_FAILURE, DUPLICATE_KEY } from '../server/server-errors.js';

/** The parts of one per-document write error we read (the driver's WriteError, or a recorded answer). */
export interface WriteErrorAnswer {
  code?: number;
  errmsg?: string;
  /** Validation failures (MongoDB 5.0+): `{ failingDocumentId, details: { operatorName, schemaRulesNotSatisfied | clausesNotSatisfied ... } }`. */
  errInfo?: Document;
  /** Duplicate-key errors on MongoDB 4.2+ name the index's key; some servers' do not (`duplicateKeyDetails` in the server profile). */
  keyPattern?: Document;
  keyValue?: Document;
}

/** What a per-document write error means for the record. */
export type WriteErrorMeaning =
  /** The record's own key exists already: the caller compares with the stored document. */
  | { kind: 'exists' }
  /** The server refused the record for another reason: a `server-refused` rejection with this message and hint. */
  | { kind: 'refused'; message: string; hint: string };

/** Reads a driver WriteError (or any object of that shape) into a WriteErrorAnswer. */
export function writeErrorAnswer(error: { code?: number; errmsg?: string; errInfo?: Document; err?: Document }): WriteErrorAnswer {
  const raw = error.err ?? {};
  return {
    ...(error.code === undefined ? {} : { code: error.code }),
    ...(error.errmsg === undefined ? {} : { errmsg: error.errmsg }),
    ...(error.errInfo === undefined ? {} : { errInfo: error.errInfo }),
    ...(raw.keyPattern === undefined ? {} : { keyPattern: raw.keyPattern as Document }),
    ...(raw.keyValue === undefined ? {} : { keyValue: raw.keyValue as Document }),
  };
}

/**
 * Decides what one per-document write error means. A duplicate key is the record's own key only
 * when the server does not say which index refused it (`duplicateKeyDetails` false) or names `_id` or one of
 * `ownKeys` (the spec's unique key of the collection); a duplicate on another unique index (one the
 * installation added) is a refusal naming that index. A validation failure (121) is a refusal that
 * names the validator's rule, never a duplicate.
 */
export function classifyWriteError(answer: WriteErrorAnswer, collection: string, ownKeys: ReadonlyArray<Readonly<Record<string, unknown>>>): WriteErrorMeaning {
  if (answer.code === DUPLICATE_KEY) {
    const pattern = answer.keyPattern;
    if (pattern === undefined || sameKey(pattern, { _id: 1 }) || ownKeys.some((key) => sameKey(pattern, key))) return { kind: 'exists' };
    return {
      kind: 'refused',
      message: `the unique index ${formatKey(pattern)} of ${collection}, which the spec does not have, refused it: another document already has ${answer.keyValue ? JSON.stringify(answer.keyValue) : 'that key'}`,
      hint: `The installation added a unique index on ${formatKey(pattern)} to ${collection}; the spec allows records that share it. Ask its owner whether it should stay, then re-run.`,
    };
  }
  if (answer.code === DOCUMENT_VALIDATION_FAILURE) {
    const rules = describeValidationFailure(answer.errInfo);
    return {
      kind: 'refused',
      message: `the validator of ${collection} refused it: ${rules ?? `${answer.errmsg ?? 'Document failed validation'} (the server did not say which rule)`}`,
      hint: `Compare the record with the validator (db.getCollectionInfos({ name: "${collection}" })[0].options.validator): fix the record, or have the validator's owner relax the rule; then re-run.`,
    };
  }
  return {
    kind: 'refused',
    message: `the server refused it: ${answer.errmsg ?? `code ${answer.code ?? '?'}`}${answer.code === undefined ? '' : ` (code ${answer.code})`}`,
    hint: 'Fix the record so it matches the documented shape, then re-run.',
  };
}

/** At most this many rules are named; the count says how many more there were. */
const RULES_SHOWN = 4;

/**
 * The rules a validation failure names, in one line: `level: enum (value was not found in enum;
 * found "fatal")`, `required: missing "message"`. Reads MongoDB's `errInfo.details` (5.0+), for
 * `$jsonSchema` (`schemaRulesNotSatisfied`, `propertiesNotSatisfied`, `items`) and query-operator
 * validators (`clausesNotSatisfied`). Undefined when the server gave no details.
 */
export function describeValidationFailure(errInfo: Document | undefined): string | undefined {
  const details = errInfo?.details as Document | undefined;
  if (!details || typeof details !== 'object') return undefined;
  const rules: string[] = [];
  collectRules(details, [], rules);
  if (rules.length === 0) return typeof details.operatorName === 'string' ? `rule ${details.operatorName}` : undefined;
  const shown = rules.slice(0, RULES_SHOWN).join('; ');
  return rules.length > RULES_SHOWN ? `${shown}; and ${rules.length - RULES_SHOWN} more` : shown;
}

function collectRules(node: unknown, path: string[], out: string[]): void {
  if (Array.isArray(node)) {
    for (const child of node) collectRules(child, path, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const doc = node as Document;
  let nextPath = path;
  if (typeof doc.propertyName === 'string') nextPath = [...path, doc.propertyName];
  if (typeof doc.itemIndex === 'number') nextPath = [...nextPath, `[${doc.itemIndex}]`];
  const nested = ['schemaRulesNotSatisfied', 'propertiesNotSatisfied', 'clausesNotSatisfied', 'details', 'itemsNotSatisfied', 'patternPropertiesNotSatisfied', 'additionalPropertiesNotSatisfied'].filter(
    (field) => doc[field] !== undefined && typeof doc[field] === 'object',
  );
  const operator = typeof doc.operatorName === 'string' ? doc.operatorName : undefined;
  const leaf = operator !== undefined && (doc.reason !== undefined || doc.missingProperties !== undefined || doc.additionalProperties !== undefined);
  if (leaf) {
    const where = nextPath.length > 0 ? `${nextPath.join('.').replace(/\.\[/g, '[')}: ` : '';
    const parts: string[] = [];
    if (doc.reason !== undefined) parts.push(String(doc.reason));
    if (Array.isArray(doc.missingProperties)) parts.push(`missing ${doc.missingProperties.map((name) => JSON.stringify(name)).join(', ')}`);
    if (Array.isArray(doc.additionalProperties)) parts.push(`not allowed ${doc.additionalProperties.map((name) => JSON.stringify(name)).join(', ')}`);
    if (doc.consideredValue !== undefined) parts.push(`found ${shortValue(doc.consideredValue)}${doc.consideredType === undefined ? '' : ` (${String(doc.consideredType)})`}`);
    if (doc.specifiedAs !== undefined && doc.reason !== undefined) parts.push(`rule ${shortValue(doc.specifiedAs)}`);
    out.push(`${where}${operator} (${parts.join('; ')})`);
  }
  for (const field of nested) collectRules(doc[field], nextPath, out);
}

function shortValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
