import { optionalDate, requireDate } from './dates.js';
import { deterministicObjectId } from './deterministic-id.js';
import type { ApprovalDocument } from './documents.js';
import { formatEnum, parseEnum } from './enums.js';
import {
  RecordFields,
  knownFieldSet,
  optionalString,
  requireNonEmptyString,
  requireObject,
  stringList,
} from './fields.js';
import { normalizeSafely, type Normalized } from './invalid-record.js';
import type { NormalizeContext } from './normalize-context.js';

const APPROVAL_FIELDS = knownFieldSet([
  'approvalId', 'requiredGrants', 'stepIds', 'messages', 'reasonTemplate', 'requestedAt', 'status',
  'actorId', 'completedAt', 'summary',
]);

/** An approvals file must hold a JSON array; anything else is one rejected record. */
export function approvalElements(json: unknown): Normalized<unknown[]> {
  if (Array.isArray(json)) return { ok: true, doc: json };
  return { ok: false, reason: 'wrong-shape', message: 'the approvals file is not a JSON array' };
}

/** Turns one element of an approvals array into a `pack_run_approvals` document or a rejection. */
export function normalizeApproval(
  json: unknown,
  runId: string,
  context: NormalizeContext,
): Normalized<ApprovalDocument> {
  return normalizeSafely(() => {
    const fields = new RecordFields(requireObject(json, 'the approval'));
    const approvalId = requireNonEmptyString(fields.get('approvalId'), 'approvalId');
    const requestedAt = requireDate(fields.get('requestedAt'), 'requestedAt');
    const document: ApprovalDocument = {
      _id: deterministicObjectId('pack_run_approvals', [runId, approvalId], requestedAt),
      runId,
      approvalId,
      requiredGrants: stringList(fields.get('requiredGrants'), 'requiredGrants'),
      stepIds: stringList(fields.get('stepIds'), 'stepIds'),
      messages: stringList(fields.get('messages'), 'messages'),
      reasonTemplate: optionalString(fields.get('reasonTemplate'), 'reasonTemplate'),
      requestedAt,
      status: formatEnum('approvalStatus', parseEnum('approvalStatus', fields.get('status'), 'status'), context.enumStyle),
      actorId: optionalString(fields.get('actorId'), 'actorId'),
      completedAt: optionalDate(fields.get('completedAt'), 'completedAt'),
      summary: optionalString(fields.get('summary'), 'summary'),
    };
    for (const name of fields.unknownNames(APPROVAL_FIELDS)) context.warn('unknown-field', `approval field "${name}"`);
    return document;
  });
}

