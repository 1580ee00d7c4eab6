import type { Document } from 'mongodb';
import type { CollectionRole } from '../domain/collection-roles.js';

// Validators mirror the spec's field tables. They do not forbid extra fields: the live service
// may add some after cutover, and refusing its writes would be worse than storing them.
const nullable = (bsonType: string | string[]): { bsonType: string[] } => ({
  bsonType: [...(Array.isArray(bsonType) ? bsonType : [bsonType]), 'null'],
});
// Enums are strings in the camel and pascal styles, numbers in the number style.
const ENUM_TYPES = ['string', 'int', 'long'];

export const VALIDATORS: Readonly<Record<CollectionRole, Document>> = {
  runs: {
    $jsonSchema: {
      bsonType: 'object',
      required: ['_id', 'planHash', 'plan', 'failurePolicy', 'requestedAt', 'createdAt', 'updatedAt', 'steps'],
      properties: {
        _id: { bsonType: 'string' },
        planHash: { bsonType: 'string' },
        plan: { bsonType: 'object' },
        failurePolicy: { bsonType: 'object' },
        requestedAt: { bsonType: 'date' },
        createdAt: { bsonType: 'date' },
        updatedAt: { bsonType: 'date' },
        steps: { bsonType: 'array', items: { bsonType: 'object', required: ['stepId', 'kind', 'status'], properties: { kind: { bsonType: ENUM_TYPES }, status: { bsonType: ENUM_TYPES } } } },
        tenantId: { bsonType: 'string' },
      },
    },
  },
  logs: {
    $jsonSchema: {
      bsonType: 'object',
      required: ['_id', 'runId', 'sequence', 'timestamp', 'level', 'eventType', 'message'],
      properties: {
        _id: { bsonType: 'objectId' },
        runId: { bsonType: 'string' },
        sequence: { bsonType: 'long' },
        timestamp: { bsonType: 'date' },
        level: { enum: ['trace', 'debug', 'info', 'warn', 'error'] },
        eventType: { bsonType: 'string' },
        message: { bsonType: 'string' },
        stepId: { bsonType: 'string' },
        metadata: { bsonType: 'object', additionalProperties: { bsonType: 'string' } },
      },
    },
  },
  approvals: {
    $jsonSchema: {
      bsonType: 'object',
      required: ['_id', 'runId', 'approvalId', 'requestedAt', 'status'],
      properties: {
        _id: { bsonType: 'objectId' },
        runId: { bsonType: 'string' },
        approvalId: { bsonType: 'string' },
        requiredGrants: { bsonType: 'array', items: { bsonType: 'string' } },
        stepIds: { bsonType: 'array', items: { bsonType: 'string' } },
        messages: { bsonType: 'array', items: { bsonType: 'string' } },
        reasonTemplate: nullable('string'),
        requestedAt: { bsonType: 'date' },
        status: { bsonType: ENUM_TYPES },
        actorId: nullable('string'),
        completedAt: nullable('date'),
        summary: nullable('string'),
      },
    },
  },
  artifacts: {
    $jsonSchema: {
      bsonType: 'object',
      required: ['_id', 'runId', 'name', 'type', 'status', 'capturedAt'],
      properties: {
        _id: { bsonType: 'objectId' },
        runId: { bsonType: 'string' },
        name: { bsonType: 'string' },
        type: { bsonType: 'string' },
        sourcePath: nullable('string'),
        storedPath: nullable('string'),
        status: { bsonType: 'string' },
        notes: nullable('string'),
        capturedAt: { bsonType: 'date' },
      },
    },
  },
};
