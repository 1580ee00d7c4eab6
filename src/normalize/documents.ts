import type { ObjectId } from 'mongodb';
import type { EnumValue } from './enums.js';

/** `failurePolicy` reduced to its three documented fields. */
export interface FailurePolicy {
  maxAttempts: number;
  backoffSeconds: number;
  continueOnError: boolean;
}

/** One step record: the known fields normalized, any other field kept (camelCase key). */
export interface StepRecord {
  stepId: string;
  kind: EnumValue;
  enabled: boolean | null;
  continueOnError: boolean | null;
  maxParallel: number | null;
  approvalId: string | null;
  gateMessage: string | null;
  status: EnumValue;
  attempts: number | null;
  lastTransitionAt: Date | null;
  nextAttemptAt: Date | null;
  statusReason: string | null;
  [extra: string]: unknown;
}

/** A `pack_runs` document. Field order follows the spec table. */
export interface RunDocument {
  _id: string;
  planHash: string;
  plan: Record<string, unknown>;
  failurePolicy: FailurePolicy;
  requestedAt: Date;
  createdAt: Date;
  updatedAt: Date;
  steps: StepRecord[];
  tenantId?: string;
}

/** A `pack_run_logs` document. `sequence` is a bigint so the driver writes a BSON Int64. */
export interface LogDocument {
  _id: ObjectId;
  runId: string;
  sequence: bigint;
  timestamp: Date;
  level: LogLevel;
  eventType: string;
  message: string;
  stepId?: string;
  metadata?: Record<string, string>;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** A `pack_run_approvals` document (layout page, "Normalization rules"). */
export interface ApprovalDocument {
  _id: ObjectId;
  runId: string;
  approvalId: string;
  requiredGrants: string[];
  stepIds: string[];
  messages: string[];
  reasonTemplate: string | null;
  requestedAt: Date;
  status: EnumValue;
  actorId: string | null;
  completedAt: Date | null;
  summary: string | null;
}

/** A `pack_artifacts` document. */
export interface ArtifactDocument {
  _id: ObjectId;
  runId: string;
  name: string;
  type: string;
  sourcePath: string | null;
  storedPath: string | null;
  status: string;
  notes: string | null;
  capturedAt: Date;
}

export type DataDocument = RunDocument | LogDocument | ApprovalDocument | ArtifactDocument;
