import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import {
  ARTIFACT_STATUSES,
  normalizeArtifactOutput,
  readManifestHeader,
  type ManifestHeader,
} from '../../../src/normalize/artifact-manifest.js';
import type { ArtifactDocument } from '../../../src/normalize/documents.js';
import type { NormalizeContext } from '../../../src/normalize/normalize-context.js';
import type { WarningCode } from '../../../src/domain/outcomes.js';
import { artifactOutput, manifest } from '../../helpers/source-tree.js';

function collect(): { context: NormalizeContext; warnings: Array<{ code: WarningCode; detail: string }> } {
  const warnings: Array<{ code: WarningCode; detail: string }> = [];
  return { context: { enumStyle: 'camel', warn: (code, detail) => warnings.push({ code, detail }) }, warnings };
}

const header = (overrides: Partial<ManifestHeader> = {}): ManifestHeader => ({
  runId: 'run-7f3c',
  uploadedAt: new Date('2025-11-06T09:10:00.000Z'),
  outputs: [],
  ...overrides,
});

function accept(json: unknown, manifestHeader = header()): ArtifactDocument {
  const result = normalizeArtifactOutput(json, manifestHeader, collect().context);
  if (!result.ok) throw new Error(`rejected: ${result.reason}: ${result.message}`);
  return result.doc;
}

describe('readManifestHeader', () => {
  it('takes runId from the content over the folder name', () => {
    const result = readManifestHeader({ json: manifest({ runId: 'tenant-a:nightly/42' }), folderName: 'tenant-a_nightly_42' }, collect().context);
    expect(result.ok && result.doc.runId).toBe('tenant-a:nightly/42');
    expect(result.ok && result.doc.uploadedAt?.toISOString()).toBe('2025-11-06T09:10:00.000Z');
    expect(result.ok && result.doc.outputs).toHaveLength(1);
  });

  it('falls back to the folder name, with a warning, when the manifest has no runId', () => {
    const { context, warnings } = collect();
    const result = readManifestHeader({ json: manifest({ runId: undefined }), folderName: 'run-0b2e' }, context);
    expect(result.ok && result.doc.runId).toBe('run-0b2e');
    expect(warnings.map((w) => w.code)).toEqual(['run-id-from-file-name']);
  });

  it('reads a PascalCase manifest with a 7-digit -08:00 UploadedAt', () => {
    const result = readManifestHeader(
      { json: { RunId: 'deploy-1', UploadedAt: '2025-11-05T16:30:00.1234567-08:00', Outputs: [] }, folderName: 'deploy-1' },
      collect().context,
    );
    expect(result.ok && result.doc.uploadedAt?.toISOString()).toBe('2025-11-06T00:30:00.123Z');
  });

  it('rejects an envelope it cannot use', () => {
    const bad: unknown[] = [manifest({ outputs: { name: 'x' } }), manifest({ uploadedAt: 'soon' }), [manifest()], manifest({ runId: 7 })];
    for (const json of bad) {
      const result = readManifestHeader({ json, folderName: 'f' }, collect().context);
      expect(result.ok, JSON.stringify(json)).toBe(false);
    }
  });
});

describe('normalizeArtifactOutput', () => {
  it('builds the pack_artifacts document', () => {
    expect(accept(artifactOutput())).toEqual({
      _id: expect.any(ObjectId),
      runId: 'run-7f3c',
      name: 'report',
      type: 'file',
      sourcePath: 'out/report.json',
      storedPath: 'run-1/files/report.json',
      status: 'copied',
      notes: null,
      capturedAt: new Date('2025-11-06T09:10:00.000Z'),
    });
  });

  it('takes capturedAt from the output first, then the manifest\'s uploadedAt, and rejects an output with neither', () => {
    expect(accept(artifactOutput({ capturedAt: '2025-11-06T09:04:09.987654+00:00' })).capturedAt.toISOString()).toBe('2025-11-06T09:04:09.987Z');
    expect(accept(artifactOutput({ capturedAt: null })).capturedAt.toISOString()).toBe('2025-11-06T09:10:00.000Z');
    const result = normalizeArtifactOutput(artifactOutput(), header({ uploadedAt: null }), collect().context);
    expect(!result.ok && result.reason).toBe('missing-field');
    expect(accept(artifactOutput({ capturedAt: '2025-11-06T10:00:00Z' }), header({ uploadedAt: null })).capturedAt.toISOString()).toBe('2025-11-06T10:00:00.000Z');
  });

  it('writes the nullable fields as null when they are missing or null', () => {
    for (const output of [
      artifactOutput({ sourcePath: undefined, storedPath: undefined, notes: undefined }),
      artifactOutput({ sourcePath: null, storedPath: null, notes: null }),
    ]) {
      const doc = accept(output);
      expect(doc).toMatchObject({ sourcePath: null, storedPath: null, notes: null });
      for (const field of ['sourcePath', 'storedPath', 'notes']) expect(Object.hasOwn(doc, field)).toBe(true);
    }
  });

  it('normalizes the four documented statuses and keeps any other status as written, with a warning', () => {
    expect(ARTIFACT_STATUSES).toEqual(['pending', 'copied', 'materialized', 'skipped']);
    const { context, warnings } = collect();
    for (const status of ['Pending', 'COPIED', 'materialized', 'Skipped']) {
      const result = normalizeArtifactOutput(artifactOutput({ status }), header(), context);
      expect(result.ok && result.doc.status).toBe(status.toLowerCase());
    }
    expect(warnings).toEqual([]);
    const kept = normalizeArtifactOutput(artifactOutput({ status: 'quarantined' }), header(), context);
    expect(kept.ok && kept.doc.status).toBe('quarantined');
    expect(warnings).toEqual([{ code: 'unknown-artifact-status', detail: expect.stringContaining('"quarantined"') }]);
  });

  it('reads PascalCase outputs', () => {
    const doc = accept({ Name: 'canary-metrics', Type: 'object', Status: 'materialized', Notes: 'ok' });
    expect(doc).toMatchObject({ name: 'canary-metrics', type: 'object', status: 'materialized', notes: 'ok', sourcePath: null, storedPath: null });
  });

  it('rejects an output without name or type', () => {
    for (const field of ['name', 'type']) {
      const result = normalizeArtifactOutput(artifactOutput({ [field]: undefined }), header(), collect().context);
      expect(!result.ok && result.reason, field).toBe('missing-field');
      expect(!result.ok && result.message).toContain(`"${field}"`);
    }
  });

  it('derives _id from (runId, name) and the capture time', () => {
    const a = accept(artifactOutput());
    expect(a._id.equals(accept(artifactOutput({ notes: 'other' }))._id)).toBe(true);
    expect(a._id.equals(accept(artifactOutput({ name: 'sbom' }))._id)).toBe(false);
    expect(a._id.getTimestamp().toISOString()).toBe('2025-11-06T09:10:00.000Z');
  });
});
