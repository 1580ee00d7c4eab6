import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { approvalElements, normalizeApproval } from '../../../src/normalize/approval.js';
import type { ApprovalDocument } from '../../../src/normalize/documents.js';
import type { EnumStyle } from '../../../src/normalize/enums.js';
import type { NormalizeContext } from '../../../src/normalize/normalize-context.js';
import type { WarningCode } from '../../../src/domain/outcomes.js';
import { approval } from '../../helpers/source-tree.js';

function collect(enumStyle: EnumStyle = 'camel'): { context: NormalizeContext; warnings: Array<{ code: WarningCode; detail: string }> } {
  const warnings: Array<{ code: WarningCode; detail: string }> = [];
  return { context: { enumStyle, warn: (code, detail) => warnings.push({ code, detail }) }, warnings };
}

function accept(json: unknown, enumStyle: EnumStyle = 'camel'): ApprovalDocument {
  const result = normalizeApproval(json, 'run-7f3c', collect(enumStyle).context);
  if (!result.ok) throw new Error(`rejected: ${result.reason}: ${result.message}`);
  return result.doc;
}

describe('approvalElements', () => {
  it('accepts an array and rejects any other JSON value as wrong-shape', () => {
    expect(approvalElements([approval()])).toEqual({ ok: true, doc: [approval()] });
    expect(approvalElements([])).toEqual({ ok: true, doc: [] });
    for (const json of [approval(), 'x', null, 1]) {
      const result = approvalElements(json);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).toBe('wrong-shape');
    }
  });
});

describe('normalizeApproval', () => {
  it('builds the pack_run_approvals document with the runId of the file', () => {
    expect(accept(approval())).toEqual({
      _id: expect.any(ObjectId),
      runId: 'run-7f3c',
      approvalId: 'security-review',
      requiredGrants: ['packs.approve'],
      stepIds: ['approve'],
      messages: ['Security must approve'],
      reasonTemplate: 'Approve deploy of {{inputs.image}}',
      requestedAt: new Date('2025-11-06T09:00:00.200Z'),
      status: 'approved',
      actorId: 'user:alice',
      completedAt: new Date('2025-11-06T09:02:58.000Z'),
      summary: 'LGTM',
    });
  });

  it('writes the nullable fields as null when they are missing or null, and lists as []', () => {
    const missing = accept(approval({
      status: 'pending',
      reasonTemplate: null,
      actorId: undefined,
      completedAt: undefined,
      summary: undefined,
      requiredGrants: undefined,
      stepIds: null,
      messages: undefined,
    }));
    expect(missing).toMatchObject({ reasonTemplate: null, actorId: null, completedAt: null, summary: null, requiredGrants: [], stepIds: [], messages: [], status: 'pending' });
    for (const field of ['reasonTemplate', 'actorId', 'completedAt', 'summary']) expect(Object.hasOwn(missing, field), field).toBe(true);
  });

  it('reads status names in any case and numbers, in every output style', () => {
    expect(accept(approval({ status: 'APPROVED' })).status).toBe('approved');
    expect(accept(approval({ status: 1 })).status).toBe('approved');
    expect(accept(approval({ status: 3 })).status).toBe('expired');
    expect(accept(approval({ status: 'rejected' }), 'pascal').status).toBe('Rejected');
    expect(accept(approval({ status: 'Approved' }), 'number').status).toBe(1);
  });

  it('rejects an unknown status, quoting it', () => {
    const result = normalizeApproval(approval({ status: 'Escalated' }), 'r', collect().context);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toBe('unknown-enum');
    expect(!result.ok && result.message).toContain('"Escalated"');
  });

  it('reads PascalCase keys and converts offsets to UTC', () => {
    const doc = accept({
      ApprovalId: 'prod-gate',
      RequestedAt: '2025-11-05T16:01:00.25-08:00',
      Status: 1,
      ActorId: 'user:bob',
      CompletedAt: '2025-11-04T08:00:00.003+05:30',
    });
    expect(doc).toMatchObject({
      approvalId: 'prod-gate',
      requestedAt: new Date('2025-11-06T00:01:00.250Z'),
      completedAt: new Date('2025-11-04T02:30:00.003Z'),
      actorId: 'user:bob',
      status: 'approved',
    });
  });

  it('rejects an element missing approvalId, requestedAt or status', () => {
    for (const field of ['approvalId', 'requestedAt', 'status']) {
      const result = normalizeApproval(approval({ [field]: undefined }), 'r', collect().context);
      expect(!result.ok && result.reason, field).toBe('missing-field');
    }
    const notObject = normalizeApproval('security-review', 'r', collect().context);
    expect(!notObject.ok && notObject.reason).toBe('wrong-shape');
  });

  it('warns about an unknown field and does not copy it', () => {
    const { context, warnings } = collect();
    const result = normalizeApproval(approval({ escalatedTo: 'cto' }), 'r', context);
    expect(result.ok && Object.hasOwn(result.doc, 'escalatedTo')).toBe(false);
    expect(warnings).toEqual([{ code: 'unknown-field', detail: expect.stringContaining('escalatedTo') }]);
  });
});
