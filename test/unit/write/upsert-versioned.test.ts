import { describe, expect, it } from 'vitest';
import { APPROVALS_SPEC, ARTIFACTS_SPEC, RUNS_SPEC } from '../../../src/write/upsert-versioned.js';

describe('collection keys', () => {
  it('key runs by _id, artifacts by (runId, name), approvals by (runId, approvalId)', () => {
    expect(RUNS_SPEC.keyOf({ _id: 'r' })).toBe('r');
    // Map keys are unambiguous for any runId and name; reports show the readable label.
    expect(ARTIFACTS_SPEC.keyOf({ runId: 'a', name: 'b#c' })).not.toBe(ARTIFACTS_SPEC.keyOf({ runId: 'a#b', name: 'c' }));
    expect(APPROVALS_SPEC.keyOf({ runId: 'a', approvalId: 'b#c' })).not.toBe(APPROVALS_SPEC.keyOf({ runId: 'a#b', approvalId: 'c' }));
    expect(ARTIFACTS_SPEC.labelOf({ runId: 'r', name: 'n' })).toBe('r#n');
    expect(APPROVALS_SPEC.labelOf({ runId: 'r', approvalId: 'a' })).toBe('r#a');
    expect(ARTIFACTS_SPEC.labelOf({ runId: 'a#b', name: 'c' })).toBe('"a#b"#"c"');
    // Stored documents are found by run (one query over the runs involved), not one $or clause per key.
    expect([RUNS_SPEC.findField, ARTIFACTS_SPEC.findField, APPROVALS_SPEC.findField]).toEqual(['_id', 'runId', 'runId']);
  });
});
