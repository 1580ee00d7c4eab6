import { optionalDate } from './dates.js';
import { deterministicObjectId } from './deterministic-id.js';
import type { ArtifactDocument } from './documents.js';
import {
  RecordFields,
  knownFieldSet,
  optionalString,
  requireNonEmptyString,
  requireObject,
  requireString,
} from './fields.js';
import { InvalidRecord, normalizeSafely, type Normalized } from './invalid-record.js';
import type { NormalizeContext } from './normalize-context.js';

const MANIFEST_FIELDS = knownFieldSet(['runId', 'uploadedAt', 'outputs']);
const OUTPUT_FIELDS = knownFieldSet([
  'name', 'type', 'sourcePath', 'storedPath', 'status', 'notes', 'capturedAt',
]);
export const ARTIFACT_STATUSES: readonly string[] = ['pending', 'copied', 'materialized', 'skipped'];

/** The manifest-level facts every output needs. */
export interface ManifestHeader {
  runId: string;
  uploadedAt: Date | null;
  outputs: unknown[];
}

export interface ManifestInput {
  json: unknown;
  /** runId to use when the manifest does not carry one: its folder's name. */
  folderName: string;
}

/** Reads the manifest envelope; a bad envelope is one rejected artifact record. */
export function readManifestHeader(input: ManifestInput, context: NormalizeContext): Normalized<ManifestHeader> {
  return normalizeSafely(() => {
    const fields = new RecordFields(requireObject(input.json, 'the artifact manifest'));
    let runId: string;
    if (fields.get('runId') === undefined) {
      runId = input.folderName;
      context.warn('run-id-from-file-name', 'an artifact manifest without "runId" took its folder name as runId');
    } else {
      runId = requireNonEmptyString(fields.get('runId'), 'runId');
    }
    const outputs = fields.get('outputs') ?? [];
    if (!Array.isArray(outputs)) throw new InvalidRecord('invalid-field', '"outputs" is not a list');
    for (const name of fields.unknownNames(MANIFEST_FIELDS)) context.warn('unknown-field', `artifact manifest field "${name}"`);
    return { runId, uploadedAt: optionalDate(fields.get('uploadedAt'), 'uploadedAt'), outputs };
  });
}

/** Turns one output of a manifest into a `pack_artifacts` document or a rejection. */
export function normalizeArtifactOutput(
  json: unknown,
  header: ManifestHeader,
  context: NormalizeContext,
): Normalized<ArtifactDocument> {
  return normalizeSafely(() => {
    const fields = new RecordFields(requireObject(json, 'the artifact output'));
    const name = requireNonEmptyString(fields.get('name'), 'name');
    // The output's own capturedAt wins over the manifest's uploadedAt.
    const capturedAt = optionalDate(fields.get('capturedAt'), 'capturedAt') ?? header.uploadedAt;
    if (capturedAt === null) {
      throw new InvalidRecord('missing-field', 'neither the output\'s "capturedAt" nor the manifest\'s "uploadedAt" is set');
    }
    const document: ArtifactDocument = {
      _id: deterministicObjectId('pack_artifacts', [header.runId, name], capturedAt),
      runId: header.runId,
      name,
      type: requireString(fields.get('type'), 'type'),
      sourcePath: optionalString(fields.get('sourcePath'), 'sourcePath'),
      storedPath: optionalString(fields.get('storedPath'), 'storedPath'),
      status: artifactStatus(requireString(fields.get('status'), 'status'), context),
      notes: optionalString(fields.get('notes'), 'notes'),
      capturedAt,
    };
    for (const field of fields.unknownNames(OUTPUT_FIELDS)) context.warn('unknown-field', `artifact output field "${field}"`);
    return document;
  });
}

/** One of the four documented statuses (any case); other values are kept as written, with a warning. */
function artifactStatus(value: string, context: NormalizeContext): string {
  const known = ARTIFACT_STATUSES.find((status) => status === value.toLowerCase());
  if (known) return known;
  context.warn('unknown-artifact-status', `artifact status ${JSON.stringify(value)} kept as written`);
  return value;
}
