/**
 * Imports fixtures/sample through the programmatic API into a fresh database on the real server,
 * then checks what is actually stored against fixtures/sample.expected.json and the layout spec.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Long, ObjectId, type Document } from 'mongodb';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importExitCode } from '../../src/cli/exit-codes.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { runImport, type ImportOptions } from '../../src/pipeline/run-import.js';
import type { ImportReport } from '../../src/report/import-report.js';
import type { CollectionRole } from '../../src/domain/collection-roles.js';
import { openTestDb, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(REPO, 'fixtures/sample');

interface Expected {
  files: Record<CollectionRole | 'ignored', number>;
  documents: Record<string, number>;
  rejected: Record<string, number>;
  orphanRunIds: string[];
  ambiguousFiles: string[];
  artifactStatusWarnings: number;
  unknownFieldWarnings: string[];
}

const NAMES: Record<CollectionRole, string> = {
  runs: 'pack_runs',
  logs: 'pack_run_logs',
  approvals: 'pack_run_approvals',
  artifacts: 'pack_artifacts',
};
const ROLES = Object.keys(NAMES) as CollectionRole[];

let t: TestDb;
let report: ImportReport;
let expected: Expected;

function importOptions(source: string): ImportOptions {
  const config = resolveConfig({ source }, {}, [], REPO);
  return { ...config, source: config.source ?? source };
}

beforeAll(async () => {
  expected = JSON.parse(await readFile(path.join(REPO, 'fixtures/sample.expected.json'), 'utf8')) as Expected;
  t = await openTestDb('import_fixtures', { useBigInt64: true });
  report = await runImport(importOptions(SAMPLE), { db: t.db, serverLabel: 'test', logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await t?.drop();
});

const collection = (role: CollectionRole) => t.db.collection(NAMES[role]);
const find = (role: CollectionRole, filter: Document = {}) => collection(role).find(filter).toArray();
async function one(role: CollectionRole, filter: Document): Promise<Document> {
  const doc = await collection(role).findOne(filter);
  if (!doc) throw new Error(`${NAMES[role]}: nothing matches ${JSON.stringify(filter)}`);
  return doc;
}

describe('import of fixtures/sample', () => {
  it('reads the files expected.json counts', () => {
    const { skippedUnchanged: _skipped, ...files } = report.files;
    expect(files).toEqual(expected.files);
  });

  it('stores exactly the expected number of documents, and reports them as inserted', async () => {
    for (const role of ROLES) {
      const name = NAMES[role];
      expect(await collection(role).countDocuments({}), name).toBe(expected.documents[name]);
      expect(report.collections[role].name).toBe(name);
      expect(report.collections[role].inserted, name).toBe(expected.documents[name]);
      expect(report.collections[role].rejected, name).toBe(expected.rejected[name]);
      expect(report.collections[role], name).toMatchObject({ updated: 0, unchanged: 0, keptNewer: 0, conflict: 0 });
    }
    const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
    expect(report.totals.inserted).toBe(total(expected.documents));
    expect(report.totals.rejected).toBe(total(expected.rejected));
    expect(report.complete).toBe(true);
    expect(importExitCode(report)).toBe(3);
  });

  it('lists every rejection with file, reason, message and hint, and a line for bad log lines', () => {
    expect(report.rejections).toHaveLength(report.totals.rejected);
    expect(report.detailsTruncated).toBe(false);
    for (const rejection of report.rejections) {
      expect(rejection.file).toMatch(/^(state|logs|artifacts)\//);
      expect(rejection.reason).toMatch(/^[a-z-]+$/);
      expect(rejection.message.length).toBeGreaterThan(0);
      expect(rejection.hint.length).toBeGreaterThan(0);
    }
    for (const role of ROLES) {
      expect(report.rejections.filter((r) => r.collection === role), role).toHaveLength(expected.rejected[NAMES[role]] ?? -1);
    }
    const lineRejections = report.rejections
      .filter((r) => r.collection === 'logs' && r.reason !== 'ambiguous-run-id')
      .map((r) => [r.file, r.line, r.reason]);
    expect(lineRejections.sort()).toEqual([
      ['logs/runs/mirror-sync-203.ndjson', 8, 'invalid-json'],
      ['logs/runs/tenant-a_nightly_42.ndjson', 8, 'missing-field'],
    ]);
    const byFile = new Map(report.rejections.map((r) => [r.file, r]));
    expect(byFile.get('state/runs/run-9a01.json')).toMatchObject({ reason: 'unknown-enum', message: expect.stringContaining('9') });
    expect(byFile.get('state/runs/run-3c44.json')?.reason).toBe('empty-file');
    expect(byFile.get('state/runs/run-6e21.json')?.reason).toBe('invalid-json');
    expect(byFile.get('state/approvals/mirror-sync-203.json')?.reason).toBe('wrong-shape');
    expect(byFile.get('artifacts/tenant-a_nightly_42/artifact-manifest.json')).toMatchObject({ reason: 'missing-field', message: expect.stringContaining('"type"') });
    expect(report.rejections.find((r) => r.message.includes('Escalated'))).toMatchObject({ collection: 'approvals', reason: 'unknown-enum' });
  });

  it('reports the ambiguous files and imports nothing from them', async () => {
    const ambiguous = report.rejections.filter((r) => r.reason === 'ambiguous-run-id').map((r) => r.file).sort();
    expect(ambiguous).toEqual(expected.ambiguousFiles);
    for (const rejection of report.rejections.filter((r) => r.reason === 'ambiguous-run-id')) {
      expect(rejection.line).toBeUndefined();
    }
    for (const role of ['logs', 'approvals'] as const) {
      expect(await collection(role).countDocuments({ runId: { $in: ['ci:a', 'ci/a', 'ci_a'] } })).toBe(0);
    }
    expect(await collection('runs').countDocuments({ _id: { $in: ['ci:a', 'ci/a'] } } as Document)).toBe(2);
  });

  it('imports orphans under their file-name runId and lists them', async () => {
    expect(report.orphanRunIds).toEqual(expected.orphanRunIds);
    expect(await collection('logs').countDocuments({ runId: 'run-e41d' })).toBe(5);
    expect(await collection('approvals').countDocuments({ runId: 'release-train-77' })).toBe(1);
  });

  it('reports the expected warnings', () => {
    const unknownFields = report.warnings.filter((w) => w.code === 'unknown-field');
    expect(unknownFields.map((w) => w.message.match(/"([^"]+)"/)?.[1])).toEqual(expected.unknownFieldWarnings);
    expect(unknownFields.every((w) => w.count === 1)).toBe(true);
    const statusWarnings = report.warnings.filter((w) => w.code === 'unknown-artifact-status');
    expect(statusWarnings.reduce((n, w) => n + w.count, 0)).toBe(expected.artifactStatusWarnings);
    expect(report.warnings.find((w) => w.code === 'empty-log-file')?.message).toContain('docs-build-5521');
    expect(report.warnings.filter((w) => w.code === 'metadata-converted').reduce((n, w) => n + w.count, 0)).toBeGreaterThan(0);
  });

  it('uses runId as _id for runs and an ObjectId everywhere else', async () => {
    const runIds = (await find('runs')).map((doc) => doc._id as unknown).sort();
    expect(runIds).toEqual(['ci/a', 'ci:a', 'deploy-2025-11-05-0017', 'docs-build-5521', 'mirror-sync-203', 'nightly-scan-1187', 'run-0b2e', 'run-7f3c', 'tenant-a:nightly/42']);
    for (const role of ['logs', 'approvals', 'artifacts'] as const) {
      const docs = await find(role);
      expect(docs.every((doc) => doc._id instanceof ObjectId), role).toBe(true);
      expect(await collection(role).countDocuments({ _id: { $type: 'objectId' } })).toBe(docs.length);
    }
  });

  it('stores sequence as a BSON long (Int64), read back as Long or bigint', async () => {
    const total = expected.documents.pack_run_logs;
    expect(await collection('logs').countDocuments({ sequence: { $type: 'long' } })).toBe(total);
    const asLong = await collection('logs').findOne({ runId: 'run-7f3c', sequence: 16n }, { promoteLongs: false, useBigInt64: false });
    expect(asLong?.sequence).toBeInstanceOf(Long);
    expect((asLong?.sequence as Long).toString()).toBe('16');
    const asBigInt = await collection('logs').findOne({ runId: 'run-7f3c', sequence: 16n });
    expect(asBigInt?.sequence).toBe(16n);
  });

  it('numbers log entries by physical line, or by the line\'s own sequence when it has one', async () => {
    const sequences = async (runId: string) =>
      (await collection('logs').find({ runId }).sort({ sequence: 1 }).toArray()).map((doc) => Number(doc.sequence as bigint));
    expect(await sequences('run-7f3c')).toEqual([1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(await sequences('tenant-a:nightly/42')).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
    expect(await sequences('nightly-scan-1187')).toEqual([1, 2, 3, 4, 6, 7, 8, 9]);
    expect(await sequences('mirror-sync-203')).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('stores every timestamp as a BSON date in UTC, truncated to the millisecond', async () => {
    const run = await one('runs', { _id: 'run-7f3c' });
    expect(run.requestedAt).toEqual(new Date('2025-11-06T09:00:00.000Z'));
    expect(run.createdAt).toEqual(new Date('2025-11-06T09:00:00.123Z')); // .1234567+00:00
    expect(run.updatedAt).toEqual(new Date('2025-11-06T09:04:10.500Z'));
    expect((run.steps as Document[])[0]?.lastTransitionAt).toEqual(new Date('2025-11-06T09:01:12.345Z'));
    const deploy = await one('runs', { _id: 'deploy-2025-11-05-0017' });
    expect(deploy.updatedAt).toEqual(new Date('2025-11-06T00:31:45.000Z')); // .000001-08:00
    const manifestUpload = await one('artifacts', { runId: 'deploy-2025-11-05-0017', name: 'release-notes' });
    expect(manifestUpload.capturedAt).toEqual(new Date('2025-11-06T00:32:10.123Z')); // .1234567-08:00
    const quota = await one('approvals', { runId: 'tenant-a:nightly/42', approvalId: 'data-export-quota' });
    expect(quota.requestedAt).toEqual(new Date('2025-11-03T20:49:31.250Z')); // .250+05:30
    for (const [role, field] of [['runs', 'updatedAt'], ['runs', 'createdAt'], ['runs', 'requestedAt'], ['logs', 'timestamp'], ['artifacts', 'capturedAt'], ['approvals', 'requestedAt']] as const) {
      expect(await collection(role).countDocuments({ [field]: { $type: 'date' } }), `${role}.${field}`).toBe(await collection(role).countDocuments({}));
    }
    expect(await collection('runs').countDocuments({ 'steps.lastTransitionAt': { $type: 'string' } })).toBe(0);
  });

  it('copies plan verbatim, timestamps inside it included', async () => {
    const run = await one('runs', { _id: 'run-7f3c' });
    expect((run.plan as Document).computedAt).toBe('2025-11-06T08:59:59.9999999+00:00');
    const source = JSON.parse(await readFile(path.join(SAMPLE, 'state/runs/run-7f3c.json'), 'utf8')) as Document;
    expect(run.plan).toEqual(source.plan);
    const deploy = await one('runs', { _id: 'deploy-2025-11-05-0017' });
    const deploySource = JSON.parse(await readFile(path.join(SAMPLE, 'state/runs/deploy-2025-11-05-0017.json'), 'utf8')) as Document;
    expect(deploy.plan).toEqual(deploySource.Plan);
  });

  it('writes enums as camelCase strings whatever form the file used', async () => {
    const run = await one('runs', { _id: 'run-7f3c' });
    const steps = run.steps as Document[];
    expect(steps.map((s) => [s.stepId, s.kind, s.status])).toEqual([
      ['checkout', 'run', 'succeeded'],
      ['security-review', 'gateApproval', 'succeeded'],
      ['scan', 'run', 'failed'],
      ['publish-report', 'run', 'skipped'],
    ]);
    const deploy = await one('runs', { _id: 'deploy-2025-11-05-0017' });
    expect((deploy.steps as Document[]).map((s) => [s.stepId, s.kind, s.status])).toEqual([
      ['approve-prod', 'gateApproval', 'succeeded'],
      ['build', 'run', 'succeeded'],
      ['rollout', 'parallel', 'succeeded'],
      ['smoke-test', 'run', 'succeeded'],
    ]);
    const tenant = await one('runs', { _id: 'tenant-a:nightly/42' });
    expect((tenant.steps as Document[]).map((s) => s.kind)).toContain('gateApproval');
    const mirror = await one('runs', { _id: 'mirror-sync-203' });
    expect(new Set((mirror.steps as Document[]).map((s) => s.status))).toEqual(new Set(['succeeded', 'running', 'pending']));
    expect((await one('approvals', { runId: 'deploy-2025-11-05-0017' })).status).toBe('approved'); // numeric 1 in the file
    expect((await one('approvals', { approvalId: 'dpo-signoff' })).status).toBe('approved'); // APPROVED
    expect((await one('approvals', { approvalId: 'data-export-quota' })).status).toBe('pending');
  });

  it('keeps step records whole, with camelCase keys, from a PascalCase file', async () => {
    const deploy = await one('runs', { _id: 'deploy-2025-11-05-0017' });
    const rollout = (deploy.steps as Document[]).find((s) => s.stepId === 'rollout');
    expect(rollout).toEqual({
      stepId: 'rollout',
      kind: 'parallel',
      enabled: true,
      continueOnError: false,
      maxParallel: 3,
      approvalId: null,
      gateMessage: null,
      status: 'succeeded',
      attempts: 1,
      lastTransitionAt: new Date('2025-11-06T00:30:02.100Z'),
      nextAttemptAt: null,
      statusReason: null,
    });
    expect(deploy.failurePolicy).toEqual({ maxAttempts: 3, backoffSeconds: 60, continueOnError: false });
  });

  it('keeps metadata values as strings only', async () => {
    const logs = await find('logs');
    let values = 0;
    for (const doc of logs) {
      if (doc.metadata === undefined) continue;
      for (const value of Object.values(doc.metadata as Document)) {
        expect(typeof value).toBe('string');
        values += 1;
      }
    }
    expect(values).toBeGreaterThan(20);
    const scheduled = await one('logs', { runId: 'run-7f3c', sequence: 2n });
    expect(scheduled.metadata).toEqual({ worker: 'tr-worker-2', queueDepth: '3' });
    const failed = await one('logs', { runId: 'run-7f3c', eventType: 'run.failed' });
    expect(failed.metadata).toEqual({ failedSteps: '["scan"]' });
    expect(Object.hasOwn(failed, 'stepId')).toBe(false); // stepId: null on the line
    const skipped = await one('logs', { runId: 'run-7f3c', eventType: 'step.skipped' });
    expect(Object.hasOwn(skipped, 'metadata')).toBe(false); // metadata: null on the line
    expect(await collection('logs').countDocuments({ 'metadata.stderrTail': { $exists: true } })).toBe(0);
  });

  it('maps log levels to the five documented values', async () => {
    const levels = await collection('logs').distinct('level');
    expect(levels.sort()).toEqual(['debug', 'error', 'info', 'trace', 'warn']);
    const deployLevels = await collection('logs').distinct('level', { runId: 'deploy-2025-11-05-0017' });
    expect(deployLevels).not.toContain('Information');
  });

  it('omits tenantId where it is null or missing and does not copy unknown fields', async () => {
    const runs = await find('runs');
    const withTenant = runs.filter((doc) => Object.hasOwn(doc, 'tenantId')).map((doc) => [doc._id, doc.tenantId]);
    expect(withTenant.sort()).toEqual([
      ['deploy-2025-11-05-0017', 'tenant-b'],
      ['mirror-sync-203', 'tenant-c'],
      ['tenant-a:nightly/42', 'tenant-a'],
    ]);
    expect(await collection('runs').countDocuments({ tenantId: null })).toBe(runs.length - 3);
    const run = await one('runs', { _id: 'run-7f3c' });
    expect(Object.keys(run).sort()).toEqual(['_id', 'createdAt', 'failurePolicy', 'plan', 'planHash', 'requestedAt', 'steps', 'updatedAt']);
    expect(await collection('runs').countDocuments({ legacyOwner: { $exists: true } })).toBe(0);
    expect(await collection('runs').countDocuments({ LegacyOwner: { $exists: true } })).toBe(0);
  });

  it('writes the nullable approval and artifact fields as null', async () => {
    const quota = await one('approvals', { approvalId: 'data-export-quota' });
    expect(quota).toMatchObject({ reasonTemplate: null, actorId: null, completedAt: null, summary: null });
    for (const field of ['reasonTemplate', 'actorId', 'completedAt', 'summary']) expect(Object.hasOwn(quota, field)).toBe(true);
    const canary = await one('artifacts', { name: 'canary-metrics' });
    expect(canary).toMatchObject({ sourcePath: null, storedPath: null });
    const sbom = await one('artifacts', { runId: 'run-7f3c', name: 'sbom' });
    expect(Object.hasOwn(sbom, 'notes') && sbom.notes).toBeNull();
  });

  it('takes capturedAt from the output, else the manifest\'s uploadedAt; keeps an unknown status', async () => {
    const docs = await collection('artifacts').find({ runId: 'run-7f3c' }).sort({ name: 1 }).toArray();
    expect(docs.map((doc) => [doc.name, (doc.capturedAt as Date).toISOString(), doc.status])).toEqual([
      ['report', '2025-11-06T09:04:09.987Z', 'copied'],
      ['sbom', '2025-11-06T09:10:00.000Z', 'copied'],
      ['scan-findings', '2025-11-06T09:10:00.000Z', 'materialized'],
      ['scan-log', '2025-11-06T09:10:00.000Z', 'quarantined'],
    ]);
    expect(await collection('artifacts').countDocuments({ runId: 'tenant-a:nightly/42' })).toBe(2);
  });

  it('creates the spec\'s indexes, the unique ones unique', async () => {
    const indexes = async (role: CollectionRole) =>
      new Map((await collection(role).listIndexes().toArray()).map((index) => [JSON.stringify(index.key), index.unique === true]));
    const logs = await indexes('logs');
    expect(logs.get('{"runId":1,"sequence":1}')).toBe(true);
    expect(logs.get('{"runId":1,"timestamp":1}')).toBe(false);
    expect(logs.has('{"timestamp":1}')).toBe(true);
    const artifacts = await indexes('artifacts');
    expect(artifacts.get('{"runId":1,"name":1}')).toBe(true);
    expect(artifacts.get('{"runId":1}')).toBe(false);
    expect((await indexes('approvals')).get('{"runId":1,"approvalId":1}')).toBe(true);
    const runs = await indexes('runs');
    expect(runs.get('{"updatedAt":-1}')).toBe(false);
    expect(runs.has('{"tenantId":1,"updatedAt":-1}')).toBe(true);
  });

  it('enforces the unique keys on the server', async () => {
    const existing = await one('logs', { runId: 'run-7f3c', sequence: 1n });
    const { _id: _ignored, ...copy } = existing;
    await expect(collection('logs').insertOne({ ...copy })).rejects.toMatchObject({ code: 11000 });
  });
});
