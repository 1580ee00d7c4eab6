import { describe, expect, it } from 'vitest';
import type { RunDocument } from '../../../src/normalize/documents.js';
import type { EnumStyle } from '../../../src/normalize/enums.js';
import type { NormalizeContext } from '../../../src/normalize/normalize-context.js';
import { normalizeRunState } from '../../../src/normalize/run-state.js';
import type { WarningCode } from '../../../src/domain/outcomes.js';
import { runState, step } from '../../helpers/source-tree.js';

function collect(enumStyle: EnumStyle = 'camel'): { context: NormalizeContext; warnings: Array<{ code: WarningCode; detail: string }> } {
  const warnings: Array<{ code: WarningCode; detail: string }> = [];
  return { context: { enumStyle, warn: (code, detail) => warnings.push({ code, detail }) }, warnings };
}

function accept(json: unknown, enumStyle: EnumStyle = 'camel'): RunDocument {
  const result = normalizeRunState({ json, fileStem: 'file-stem' }, collect(enumStyle).context);
  if (!result.ok) throw new Error(`rejected: ${result.reason}: ${result.message}`);
  return result.doc;
}

function reject(json: unknown): { reason: string; message: string } {
  const result = normalizeRunState({ json, fileStem: 'file-stem' }, collect().context);
  if (result.ok) throw new Error('expected a rejection');
  return result;
}

/** Upper-cases the first letter of every key of an object (not recursively). */
function pascalKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key.charAt(0).toUpperCase() + key.slice(1), item]));
}

describe('normalizeRunState', () => {
  it('builds the pack_runs document: runId as _id, dates in UTC truncated to the ms, camelCase enums', () => {
    const doc = accept(runState({ steps: [step({ stepId: 'gate', kind: 'GateApproval', status: 'Succeeded' })] }));
    expect(doc._id).toBe('run-1');
    expect(Object.keys(doc)).toEqual(['_id', 'planHash', 'plan', 'failurePolicy', 'requestedAt', 'createdAt', 'updatedAt', 'steps']);
    expect(doc.createdAt).toBeInstanceOf(Date);
    expect(doc.createdAt.toISOString()).toBe('2025-11-06T09:00:00.123Z');
    expect(doc.updatedAt.toISOString()).toBe('2025-11-06T09:04:10.500Z');
    const [gate] = doc.steps;
    expect(gate?.kind).toBe('gateApproval');
    expect(gate?.status).toBe('succeeded');
    expect(gate?.lastTransitionAt).toEqual(new Date('2025-11-06T09:01:00.500Z'));
    expect(gate?.nextAttemptAt).toBeNull();
  });

  it('copies plan verbatim: timestamps inside it stay strings', () => {
    const plan = { computedAt: '2025-11-06T08:59:59.9999999+00:00', Steps: [{ Id: 'a', n: null }], deep: { list: [1, 2.5, true] } };
    expect(accept(runState({ plan })).plan).toEqual(plan);
  });

  it('writes enums in the configured style', () => {
    const json = runState({ steps: [step({ kind: 'gateApproval', status: 'SUCCEEDED' })] });
    expect(accept(json, 'pascal').steps[0]).toMatchObject({ kind: 'GateApproval', status: 'Succeeded' });
    expect(accept(json, 'number').steps[0]).toMatchObject({ kind: 2, status: 2 });
  });

  it('keeps an array of steps in file order', () => {
    const doc = accept(runState({ steps: [step({ stepId: 'zeta' }), step({ stepId: 'alpha' })] }));
    expect(doc.steps.map((s) => s.stepId)).toEqual(['zeta', 'alpha']);
  });

  it('turns steps keyed by stepId into an array sorted by stepId, the key supplying a missing stepId', () => {
    const steps = {
      rollout: step({ stepId: 'rollout', kind: 4 }),
      build: step({ stepId: 'build', kind: 1 }),
      'smoke-test': step({ stepId: undefined }),
      'approve-prod': step({ stepId: undefined, kind: 2 }),
    };
    const doc = accept(runState({ steps }));
    expect(doc.steps.map((s) => s.stepId)).toEqual(['approve-prod', 'build', 'rollout', 'smoke-test']);
    expect(doc.steps.map((s) => s.kind)).toEqual(['gateApproval', 'run', 'parallel', 'run']);
    // The map and the equivalent array give the same records.
    const asArray = accept(runState({ steps: ['approve-prod', 'build', 'rollout', 'smoke-test'].map((id) => ({ ...(steps as Record<string, Record<string, unknown>>)[id], stepId: id })) }));
    expect(doc.steps).toEqual(asArray.steps);
  });

  it('rejects a step whose own stepId differs from its key, and duplicate stepIds', () => {
    expect(reject(runState({ steps: { build: step({ stepId: 'test' }) } })).reason).toBe('invalid-field');
    expect(reject(runState({ steps: [step({ stepId: 'a' }), step({ stepId: 'a' })] })).reason).toBe('duplicate-key');
    expect(reject(runState({ steps: 'build' })).reason).toBe('invalid-field');
  });

  it('reads a wholly PascalCase file into the same document', () => {
    const camel = runState({ tenantId: 'tenant-b' });
    const pascal = pascalKeys({
      ...camel,
      failurePolicy: pascalKeys(camel.failurePolicy as Record<string, unknown>),
      steps: (camel.steps as Array<Record<string, unknown>>).map(pascalKeys),
    });
    expect(Object.keys(pascal)).toContain('RunId');
    expect(accept(pascal)).toEqual(accept(camel));
  });

  it('treats a missing property like an explicit null', () => {
    const withNulls = accept(runState({ steps: [step({ maxParallel: null, approvalId: null, gateMessage: null, nextAttemptAt: null })] }));
    const missing = accept(
      runState({ tenantId: undefined, steps: [step({ maxParallel: undefined, approvalId: undefined, gateMessage: undefined, nextAttemptAt: undefined })] }),
    );
    expect(missing).toEqual(withNulls);
    expect(missing.steps[0]).toMatchObject({ maxParallel: null, approvalId: null, gateMessage: null, nextAttemptAt: null });
  });

  it('omits tenantId when it is null or missing, and writes it when set', () => {
    expect(Object.hasOwn(accept(runState({ tenantId: null })), 'tenantId')).toBe(false);
    expect(Object.hasOwn(accept(runState({ tenantId: undefined })), 'tenantId')).toBe(false);
    expect(accept(runState({ tenantId: 'tenant-c' })).tenantId).toBe('tenant-c');
  });

  it('makes steps [] when "steps" is missing', () => {
    expect(accept(runState({ steps: undefined })).steps).toEqual([]);
  });

  it('warns once per unknown top-level field and does not copy it', () => {
    const { context, warnings } = collect();
    const result = normalizeRunState({ json: runState({ legacyOwner: 'team-secops', Extra: { a: 1 } }), fileStem: 'x' }, context);
    expect(result.ok).toBe(true);
    const doc = (result as { doc: RunDocument }).doc as unknown as Record<string, unknown>;
    expect(doc).not.toHaveProperty('legacyOwner');
    expect(doc).not.toHaveProperty('Extra');
    expect(doc).not.toHaveProperty('extra');
    const unknown = warnings.filter((w) => w.code === 'unknown-field');
    expect(unknown).toHaveLength(2);
    expect(unknown.filter((w) => w.detail.includes('legacyOwner'))).toHaveLength(1);
    expect(unknown.filter((w) => w.detail.includes('Extra'))).toHaveLength(1);
  });

  it('keeps extra step fields under camelCase keys, their values verbatim, without warnings', () => {
    const { context, warnings } = collect();
    const json = runState({ steps: [step({ RetryHistory: [{ At: '2025-11-06T09:00:00Z', ExitCode: 2 }], URLValue: 'x', outputs: null })] });
    const result = normalizeRunState({ json, fileStem: 'x' }, context);
    if (!result.ok) throw new Error(result.message);
    const record = result.doc.steps[0] as Record<string, unknown>;
    expect(record.retryHistory).toEqual([{ At: '2025-11-06T09:00:00Z', ExitCode: 2 }]);
    expect(record.urlValue).toBe('x');
    expect(record).toHaveProperty('outputs', null);
    expect(record).not.toHaveProperty('RetryHistory');
    expect(warnings.filter((w) => w.code === 'unknown-field')).toEqual([]);
  });

  it('reduces failurePolicy to its three fields', () => {
    const doc = accept(runState({ failurePolicy: { MaxAttempts: 3, backoffSeconds: 12.5, ContinueOnError: true, jitter: 'full', retryOn: ['exit'] } }));
    expect(doc.failurePolicy).toEqual({ maxAttempts: 3, backoffSeconds: 12.5, continueOnError: true });
    expect(reject(runState({ failurePolicy: { maxAttempts: 3, backoffSeconds: 1 } })).reason).toBe('missing-field');
    expect(reject(runState({ failurePolicy: undefined })).reason).toBe('missing-field');
  });

  it('takes runId from the file name when the file has none, with a warning', () => {
    const { context, warnings } = collect();
    const result = normalizeRunState({ json: runState({ runId: undefined }), fileStem: 'from-name' }, context);
    expect(result.ok && result.doc._id).toBe('from-name');
    expect(warnings.map((w) => w.code)).toContain('run-id-from-file-name');
  });

  it('rejects records it cannot interpret, with a reason and a message naming the field', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [runState({ steps: [step(), step({ stepId: 'package', status: 9 })] }), 'unknown-enum', /steps\[1\]\.status.*9/],
      [runState({ steps: [step({ kind: 'Deploy' })] }), 'unknown-enum', /"Deploy"/],
      [runState({ planHash: undefined }), 'missing-field', /planHash/],
      [runState({ updatedAt: 'yesterday' }), 'invalid-date', /updatedAt/],
      [runState({ steps: [step({ lastTransitionAt: '2025-11-06 nine' })] }), 'invalid-date', /lastTransitionAt/],
      [runState({ plan: 'not an object' }), 'wrong-shape', /plan/],
      [runState({ runId: '' }), 'missing-field', /runId/],
      [[runState()], 'wrong-shape', /run state/],
      [null, 'wrong-shape', /run state/],
    ];
    for (const [json, reason, message] of cases) {
      const result = reject(json);
      expect(result.reason, result.message).toBe(reason);
      expect(result.message).toMatch(message);
    }
  });

  it('rejects a plan nested 100,000 levels deep as too-deep, without a stack overflow', () => {
    const plan = JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`) as unknown;
    expect(reject(runState({ plan })).reason).toBe('too-deep');
    const deepExtra = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(reject(runState({ steps: [step({ trace: deepExtra })] })).reason).toBe('too-deep');
  });

  it('escapes plan keys MongoDB cannot store, with a warning', () => {
    const { context, warnings } = collect();
    const result = normalizeRunState({ json: runState({ plan: { 'a.b': 1, $where: 'x' } }), fileStem: 'x' }, context);
    expect(result.ok && result.doc.plan).toEqual({ 'a%2Eb': 1, '%24where': 'x' });
    expect(warnings.filter((w) => w.code === 'key-escaped')).toHaveLength(2);
  });
});
