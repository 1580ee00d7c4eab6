import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { VERSION_FIELDS, compareVersions, decide, versionOf } from '../../../src/domain/version-rules.js';

const at = (iso: string): Date => new Date(iso);

const run = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  _id: 'run-1',
  planHash: 'sha256:00',
  plan: { steps: [{ id: 'a' }], computedAt: '2025-11-06T08:59:59.9999999+00:00' },
  updatedAt: at('2025-11-06T09:04:10.500Z'),
  steps: [{ stepId: 'a', status: 'succeeded', lastTransitionAt: at('2025-11-06T09:04:10.500Z') }],
  ...overrides,
});

describe('decide', () => {
  it('inserts what the database does not hold', () => {
    expect(decide(run(), undefined, VERSION_FIELDS.runs, false)).toEqual({ action: 'insert' });
  });

  it('leaves equal content unchanged: _id, key order and Date identity do not matter', () => {
    const stored = { ...run(), updatedAt: at('2025-11-06T09:04:10.500Z') };
    expect(decide(run(), stored, VERSION_FIELDS.runs, false)).toEqual({ action: 'unchanged' });
    const reordered = Object.fromEntries(Object.entries(run()).reverse());
    expect(decide(run(), reordered, VERSION_FIELDS.runs, false)).toEqual({ action: 'unchanged' });
    const artifact = { _id: new ObjectId(), runId: 'r', name: 'n', capturedAt: at('2025-11-06T09:10:00Z') };
    expect(decide(artifact, { ...artifact, _id: new ObjectId() }, VERSION_FIELDS.artifacts, false)).toEqual({ action: 'unchanged' });
    // overwrite does not turn equal content into a write
    expect(decide(run(), stored, VERSION_FIELDS.runs, true)).toEqual({ action: 'unchanged' });
  });

  it('replaces a stored document when the file is newer', () => {
    const stored = run({ planHash: 'old', updatedAt: at('2025-11-06T09:00:00.000Z') });
    expect(decide(run(), stored, VERSION_FIELDS.runs, false)).toEqual({ action: 'replace', stored });
  });

  it('keeps a newer stored document', () => {
    const stored = run({ updatedAt: at('2025-11-06T10:00:00.000Z'), steps: [] });
    expect(decide(run(), stored, VERSION_FIELDS.runs, false)).toEqual({ action: 'keptNewer' });
  });

  it('calls the same version with other content a conflict, naming the differing fields', () => {
    const stored = run({ planHash: 'sha256:ff', steps: [{ stepId: 'a', status: 'failed', lastTransitionAt: at('2025-11-06T09:04:10.500Z') }] });
    expect(decide(run(), stored, VERSION_FIELDS.runs, false)).toEqual({ action: 'conflict', fields: ['planHash', 'steps'] });
  });

  it('sees a change of BSON type (Int64 vs number, date vs string) as different content', () => {
    const log = { runId: 'r', sequence: 3n, capturedAt: at('2025-11-06T09:10:00Z') };
    expect(decide(log, { ...log, sequence: 3 }, VERSION_FIELDS.artifacts, false)).toEqual({ action: 'conflict', fields: ['sequence'] });
    const stored = { ...run(), plan: { ...run().plan as object, computedAt: at('2025-11-06T09:00:00Z') } };
    expect(decide(run(), stored, VERSION_FIELDS.runs, false)).toMatchObject({ action: 'conflict', fields: ['plan'] });
  });

  it('with overwrite replaces newer and conflicting stored documents too', () => {
    const newer = run({ updatedAt: at('2025-11-06T10:00:00.000Z') });
    expect(decide(run(), newer, VERSION_FIELDS.runs, true)).toEqual({ action: 'replace', stored: newer });
    const conflicting = run({ planHash: 'sha256:ff' });
    expect(decide(run(), conflicting, VERSION_FIELDS.runs, true)).toEqual({ action: 'replace', stored: conflicting });
  });

  it('orders approvals by completedAt, then requestedAt, a null completedAt being the oldest', () => {
    const pending = { _id: new ObjectId(), runId: 'r', approvalId: 'a', status: 'pending', requestedAt: at('2025-11-06T09:00:00Z'), completedAt: null };
    const approved = { ...pending, status: 'approved', completedAt: at('2025-11-06T09:02:58Z') };
    expect(decide(approved, pending, VERSION_FIELDS.approvals, false).action).toBe('replace');
    expect(decide(pending, approved, VERSION_FIELDS.approvals, false).action).toBe('keptNewer');
    const reRequested = { ...pending, status: 'expired', requestedAt: at('2025-11-06T09:30:00Z') };
    expect(decide(reRequested, pending, VERSION_FIELDS.approvals, false).action).toBe('replace');
    expect(decide({ ...pending, status: 'rejected' }, pending, VERSION_FIELDS.approvals, false)).toEqual({ action: 'conflict', fields: ['status'] });
  });

  it('calls an unreadable stored version (not a date) a conflict, never a silent replace', () => {
    const stored = run({ updatedAt: '2025-11-06T09:00:00Z', planHash: 'x' });
    expect(decide(run(), stored, VERSION_FIELDS.runs, false)).toMatchObject({ action: 'conflict' });
  });
});

describe('versionOf and compareVersions', () => {
  it('reads dates as milliseconds, null or missing as -Infinity, anything else as NaN', () => {
    expect(versionOf({ updatedAt: at('1970-01-01T00:00:01Z') }, ['updatedAt'])).toEqual([1000]);
    expect(versionOf({ completedAt: null }, ['completedAt', 'requestedAt'])).toEqual([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(versionOf({ updatedAt: 'x' }, ['updatedAt'])).toEqual([Number.NaN]);
  });

  it('compares field by field, most significant first', () => {
    expect(compareVersions([2], [1])).toBeGreaterThan(0);
    expect(compareVersions([1], [2])).toBeLessThan(0);
    expect(compareVersions([1], [1])).toBe(0);
    expect(compareVersions([1, 5], [1, 4])).toBeGreaterThan(0);
    expect(compareVersions([2, 0], [1, 9])).toBeGreaterThan(0);
    expect(compareVersions([Number.NEGATIVE_INFINITY, 9], [0, 0])).toBeLessThan(0);
    expect(compareVersions([Number.NEGATIVE_INFINITY, 9], [Number.NEGATIVE_INFINITY, 3])).toBeGreaterThan(0);
    expect(compareVersions([Number.NaN], [1])).toBe(0);
    expect(compareVersions([1], [Number.NaN])).toBe(0);
  });
});
