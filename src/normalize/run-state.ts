import { optionalDate, requireDate } from './dates.js';
import type { FailurePolicy, RunDocument, StepRecord } from './documents.js';
import { formatEnum, parseEnum } from './enums.js';
import {
  RecordFields,
  knownFieldSet,
  optionalBoolean,
  optionalSafeInteger,
  optionalString,
  requireBoolean,
  requireFiniteNumber,
  requireNonEmptyString,
  requireObject,
  requireSafeInteger,
  requireString,
  toCamelCase,
  isPlainObject,
  type JsonObject,
} from './fields.js';
import { InvalidRecord, normalizeSafely, type Normalized } from './invalid-record.js';
import type { NormalizeContext } from './normalize-context.js';
import { MAX_BSON_DEPTH, assertDepthWithin, copyWithStorableKeys, escapeFieldName } from './opaque-values.js';

const RUN_FIELDS = knownFieldSet([
  'runId', 'planHash', 'plan', 'failurePolicy', 'requestedAt', 'createdAt', 'updatedAt', 'steps', 'tenantId',
]);

const STEP_FIELDS = [
  'stepId', 'kind', 'enabled', 'continueOnError', 'maxParallel', 'approvalId', 'gateMessage', 'status',
  'attempts', 'lastTransitionAt', 'nextAttemptAt', 'statusReason',
] as const;
const STEP_FIELD_SET = knownFieldSet(STEP_FIELDS);

// plan sits at depth 1 of the run document, a step's extra field at depth 3 (steps[] -> step -> field).
const PLAN_DEPTH_LIMIT = MAX_BSON_DEPTH - 1;
const STEP_EXTRA_DEPTH_LIMIT = MAX_BSON_DEPTH - 3;

export interface RunStateInput {
  /** The parsed JSON of one state file. */
  json: unknown;
  /** runId to use when the file does not carry one: its file name without extension. */
  fileStem: string;
}

/** Turns one run state file into a `pack_runs` document or a rejection. */
export function normalizeRunState(input: RunStateInput, context: NormalizeContext): Normalized<RunDocument> {
  return normalizeSafely(() => buildRunDocument(input, context));
}

function buildRunDocument({ json, fileStem }: RunStateInput, context: NormalizeContext): RunDocument {
  const fields = new RecordFields(requireObject(json, 'the run state'));
  let runId: string;
  if (fields.get('runId') === undefined) {
    runId = fileStem;
    context.warn('run-id-from-file-name', 'a state file without "runId" took its file name as runId');
  } else {
    runId = requireNonEmptyString(fields.get('runId'), 'runId');
  }
  const planValue = fields.get('plan');
  if (planValue === undefined) throw new InvalidRecord('missing-field', '"plan" is missing');
  const plan = requireObject(planValue, '"plan"');
  assertDepthWithin(plan, PLAN_DEPTH_LIMIT, 'plan');
  const document: RunDocument = {
    _id: runId,
    planHash: requireString(fields.get('planHash'), 'planHash'),
    plan: copyWithStorableKeys(plan, (key) => context.warn('key-escaped', `plan key ${JSON.stringify(key)}`)) as JsonObject,
    failurePolicy: normalizeFailurePolicy(fields.get('failurePolicy')),
    requestedAt: requireDate(fields.get('requestedAt'), 'requestedAt'),
    createdAt: requireDate(fields.get('createdAt'), 'createdAt'),
    updatedAt: requireDate(fields.get('updatedAt'), 'updatedAt'),
    steps: normalizeSteps(fields.get('steps'), context),
  };
  const tenantId = optionalString(fields.get('tenantId'), 'tenantId');
  if (tenantId !== null) document.tenantId = tenantId;
  for (const name of fields.unknownNames(RUN_FIELDS)) context.warn('unknown-field', `state file field "${name}"`);
  return document;
}

function normalizeFailurePolicy(value: unknown): FailurePolicy {
  if (value === undefined) throw new InvalidRecord('missing-field', '"failurePolicy" is missing');
  const fields = new RecordFields(requireObject(value, '"failurePolicy"'));
  return {
    maxAttempts: requireSafeInteger(fields.get('maxAttempts'), 'failurePolicy.maxAttempts'),
    backoffSeconds: requireFiniteNumber(fields.get('backoffSeconds'), 'failurePolicy.backoffSeconds'),
    continueOnError: requireBoolean(fields.get('continueOnError'), 'failurePolicy.continueOnError'),
  };
}

/** `steps` as an array, or as an object keyed by stepId (then sorted by stepId). */
function normalizeSteps(value: unknown, context: NormalizeContext): StepRecord[] {
  if (value === undefined) return [];
  let steps: StepRecord[];
  if (Array.isArray(value)) {
    steps = value.map((step, index) => normalizeStep(step, undefined, `steps[${index}]`, context));
  } else if (isPlainObject(value)) {
    steps = Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, step]) => normalizeStep(step, key, `steps.${key}`, context));
  } else {
    throw new InvalidRecord('invalid-field', '"steps" is neither a list nor an object keyed by stepId');
  }
  const seen = new Set<string>();
  for (const step of steps) {
    if (seen.has(step.stepId)) throw new InvalidRecord('duplicate-key', `stepId "${step.stepId}" appears twice`);
    seen.add(step.stepId);
  }
  return steps;
}

function normalizeStep(
  value: unknown,
  mapKey: string | undefined,
  where: string,
  context: NormalizeContext,
): StepRecord {
  const fields = new RecordFields(requireObject(value, where));
  const ownId = fields.get('stepId');
  let stepId: string;
  if (mapKey !== undefined) {
    if (ownId !== undefined && ownId !== mapKey) {
      throw new InvalidRecord('invalid-field', `${where}.stepId ${JSON.stringify(ownId)} differs from its key`);
    }
    stepId = mapKey;
  } else {
    stepId = requireNonEmptyString(ownId, `${where}.stepId`);
  }
  const step: StepRecord = {
    stepId,
    kind: formatEnum('stepKind', parseEnum('stepKind', fields.get('kind'), `${where}.kind`), context.enumStyle),
    enabled: optionalBoolean(fields.get('enabled'), `${where}.enabled`),
    continueOnError: optionalBoolean(fields.get('continueOnError'), `${where}.continueOnError`),
    maxParallel: optionalSafeInteger(fields.get('maxParallel'), `${where}.maxParallel`),
    approvalId: optionalString(fields.get('approvalId'), `${where}.approvalId`),
    gateMessage: optionalString(fields.get('gateMessage'), `${where}.gateMessage`),
    status: formatEnum('stepStatus', parseEnum('stepStatus', fields.get('status'), `${where}.status`), context.enumStyle),
    attempts: optionalSafeInteger(fields.get('attempts'), `${where}.attempts`),
    lastTransitionAt: optionalDate(fields.get('lastTransitionAt'), `${where}.lastTransitionAt`),
    nextAttemptAt: optionalDate(fields.get('nextAttemptAt'), `${where}.nextAttemptAt`),
    statusReason: optionalString(fields.get('statusReason'), `${where}.statusReason`),
  };
  // Step records keep every field: the ones above normalized, the rest copied under a camelCase key.
  for (const [name, extra] of fields.entries()) {
    if (STEP_FIELD_SET.has(name.toLowerCase())) continue;
    const key = escapeFieldName(toCamelCase(name));
    if (Object.hasOwn(step, key)) throw new InvalidRecord('duplicate-key', `${where} has two fields named "${key}"`);
    assertDepthWithin(extra, STEP_EXTRA_DEPTH_LIMIT, `${where}.${name}`);
    Object.defineProperty(step, key, {
      value: copyWithStorableKeys(extra, (k) => context.warn('key-escaped', `step field key ${JSON.stringify(k)}`)),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return step;
}
