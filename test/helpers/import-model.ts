/**
 * The reference model for the model-based import test: deliberately simple, pure, and written
 * from the README's rules, not from the importer's code.
 *
 * - `cleanImport(files)`: the documents a clean import of a source tree would hold, with the
 *   rejections it would report. It understands exactly the file shapes the test generates
 *   (valid records in one canonical form, empty files, garbage lines, half-written last lines).
 * - `applyImport(db, files)`: what a completed import does to a database: log entries are
 *   insert-if-absent; runs, approvals and artifacts are replaced only by a newer version (keeping
 *   their `_id`), a newer stored copy is kept, the same version with other content is a conflict;
 *   nothing is ever deleted, except the copies an orphan import wrote under a file-name runId once
 *   the file belongs to a run (re-homing).
 *
 * Documents are plain objects with `Date`, `bigint` and `ObjectId` values; `canonical` renders
 * one for comparison with what the server returns (keys sorted, BSON types kept).
 */
import { createHash } from 'node:crypto';
import { BSON, ObjectId, type Document } from 'mongodb';

export type Role = 'runs' | 'logs' | 'approvals' | 'artifacts';
export const ROLES: readonly Role[] = ['runs', 'logs', 'approvals', 'artifacts'];

/** Source tree: relative path -> file content (UTF-8 text, as written byte for byte). */
export type Files = ReadonlyMap<string, string>;

/** Database: per collection, unique key -> document. */
export type ModelDb = Record<Role, Map<string, Document>>;

export function emptyDb(): ModelDb {
  return { runs: new Map(), logs: new Map(), approvals: new Map(), artifacts: new Map() };
}

export function cloneDb(db: ModelDb): ModelDb {
  return { runs: new Map(db.runs), logs: new Map(db.logs), approvals: new Map(db.approvals), artifacts: new Map(db.artifacts) };
}

// ------------------------------------------------------------------------------------------------
// The documented rules, restated
// ------------------------------------------------------------------------------------------------

/** README "Which run a file belongs to": the provider's file-name sanitizing. */
export function sanitize(runId: string): string {
  return runId.replace(/[/\\:*?"<>|\u0000-\u001f]/g, '_');
}

/** README `--partition K/N`: first 4 bytes of SHA-256 of the file stem, modulo N, 1-based. */
export function partitionOf(stem: string, count: number): number {
  return (createHash('sha256').update(stem).digest().readUInt32BE(0) % count) + 1;
}

/** README "What it writes", `_id`: 4 bytes of the record's time, 8 of SHA-256 of collection and key. */
export function derivedId(collection: string, parts: readonly string[], time: Date): ObjectId {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32BE(Math.min(Math.max(Math.floor(time.getTime() / 1000), 0), 0xffffffff), 0);
  const input = parts.some((part) => part.includes('\u0000')) ? `${collection}\u0001${JSON.stringify(parts)}` : [collection, ...parts].join('\u0000');
  createHash('sha256').update(input).digest().copy(bytes, 4, 0, 8);
  return new ObjectId(bytes);
}

export function key(...parts: readonly string[]): string {
  return JSON.stringify(parts);
}

function keyOf(role: Role, doc: Document): string {
  switch (role) {
    case 'runs':
      return key(String(doc._id));
    case 'logs':
      return key(String(doc.runId), String(doc.sequence));
    case 'approvals':
      return key(String(doc.runId), String(doc.approvalId));
    case 'artifacts':
      return key(String(doc.runId), String(doc.name));
  }
}

/** Version fields, most significant first (null sorts before any date). */
const VERSION_FIELDS: Record<Exclude<Role, 'logs'>, readonly string[]> = {
  runs: ['updatedAt'],
  approvals: ['completedAt', 'requestedAt'],
  artifacts: ['capturedAt'],
};

function compareVersions(role: Exclude<Role, 'logs'>, a: Document, b: Document): number {
  for (const field of VERSION_FIELDS[role]) {
    const left = a[field] instanceof Date ? a[field].getTime() : Number.NEGATIVE_INFINITY;
    const right = b[field] instanceof Date ? b[field].getTime() : Number.NEGATIVE_INFINITY;
    if (left !== right) return left > right ? 1 : -1;
  }
  return 0;
}

/** Canonical text of a document: keys sorted at every level, BSON types kept (canonical EJSON). */
export function canonical(doc: Document, withId = true): string {
  const sort = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sort);
    if (value && typeof value === 'object' && !(value instanceof Date) && !(value instanceof ObjectId) && !BSON.Long.isLong(value)) {
      return Object.fromEntries(
        Object.keys(value)
          .filter((name) => withId || name !== '_id')
          .sort()
          .map((name) => [name, sort((value as Record<string, unknown>)[name])]),
      );
    }
    return value;
  };
  return BSON.EJSON.stringify(sort(doc), { relaxed: false });
}

function sameContent(a: Document, b: Document): boolean {
  return canonical(a, false) === canonical(b, false);
}

// ------------------------------------------------------------------------------------------------
// A clean import of the generated shapes
// ------------------------------------------------------------------------------------------------

/** One record a clean import would write, with the file it comes from and who owns it. */
interface SourceRecord {
  role: Role;
  doc: Document;
  file: string;
  /** File stem the record's partition is decided by. */
  ownerStem: string;
}

export interface CleanImport {
  records: SourceRecord[];
  /** Rejected records per owner stem (for partitions). */
  rejections: Array<{ ownerStem: string; file: string; why: string }>;
  /** Log and approvals files attributed to a run whose runId is not their file stem. */
  attributed: Array<{ role: 'logs' | 'approvals'; file: string; stem: string; runId: string; ownerStem: string }>;
}

/** The capture is the file stem: the name without its (last) extension. */
const STATE = /^state\/runs\/([^/]+)\.json$/;
const LOG = /^logs\/runs\/([^/]+)\.ndjson$/;
const APPROVALS = /^state\/approvals\/([^/]+)\.json$/;
const MANIFEST = /^artifacts\/([^/]+)\/artifact-manifest\.json$/;

function date(text: unknown): Date {
  return new Date(String(text));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text.startsWith('\ufeff') ? text.slice(1) : text);
  } catch {
    return undefined;
  }
}

/** The run a log or approvals file stem resolves to: exact stem, else the same stem in NFC. */
export function resolveStem(stem: string, runIds: readonly string[]): { kind: 'run' | 'orphan'; runId: string } | { kind: 'ambiguous' } {
  const exact = new Set(runIds.filter((runId) => sanitize(runId) === stem));
  const candidates = exact.size > 0 ? exact : new Set(runIds.filter((runId) => sanitize(runId).normalize('NFC') === stem.normalize('NFC')));
  if (candidates.size > 1) return { kind: 'ambiguous' };
  const [runId] = candidates;
  return runId === undefined ? { kind: 'orphan', runId: stem } : { kind: 'run', runId };
}

export function runDocument(json: Record<string, unknown>): Document {
  return {
    _id: json.runId,
    planHash: json.planHash,
    plan: json.plan,
    failurePolicy: json.failurePolicy,
    requestedAt: date(json.requestedAt),
    createdAt: date(json.createdAt),
    updatedAt: date(json.updatedAt),
    steps: [],
  };
}

export function approvalDocument(json: Record<string, unknown>, runId: string): Document {
  const requestedAt = date(json.requestedAt);
  return {
    _id: derivedId('pack_run_approvals', [runId, String(json.approvalId)], requestedAt),
    runId,
    approvalId: json.approvalId,
    requiredGrants: [],
    stepIds: [],
    messages: [],
    reasonTemplate: null,
    requestedAt,
    status: String(json.status).toLowerCase(),
    actorId: null,
    completedAt: json.completedAt === null ? null : date(json.completedAt),
    summary: json.summary ?? null,
  };
}

export function logDocument(json: Record<string, unknown>, runId: string, line: number): Document {
  const timestamp = date(json.timestamp);
  return {
    _id: derivedId('pack_run_logs', [runId, String(line)], timestamp),
    runId,
    sequence: BigInt(line),
    timestamp,
    level: json.level,
    eventType: json.eventType,
    message: json.message,
  };
}

function artifactDocument(output: Record<string, unknown>, runId: string, capturedAt: Date): Document {
  return {
    _id: derivedId('pack_artifacts', [runId, String(output.name)], capturedAt),
    runId,
    name: output.name,
    type: output.type,
    sourcePath: null,
    storedPath: null,
    status: output.status,
    notes: output.notes ?? null,
    capturedAt,
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The physical lines of a log: split on `\n`, a trailing `\r` dropped, the last may be unterminated. */
export function logLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

export function cleanImport(files: Files): CleanImport {
  const result: CleanImport = { records: [], rejections: [], attributed: [] };
  const runIds: string[] = [];
  const paths = [...files.keys()].sort();
  for (const path of paths) {
    const match = STATE.exec(path);
    if (!match) continue;
    const json = parseJson(files.get(path) ?? '');
    if (!isObject(json)) {
      result.rejections.push({ ownerStem: match[1] as string, file: path, why: 'state file' });
      continue;
    }
    const doc = runDocument(json);
    runIds.push(String(doc._id));
    result.records.push({ role: 'runs', doc, file: path, ownerStem: sanitize(String(doc._id)) });
  }
  for (const path of paths) {
    const log = LOG.exec(path);
    const approvals = APPROVALS.exec(path);
    const manifest = MANIFEST.exec(path);
    const text = files.get(path) ?? '';
    if (log || approvals) {
      const stem = (log ?? approvals)?.[1] as string;
      const role = log ? 'logs' : 'approvals';
      const resolution = resolveStem(stem, runIds);
      if (resolution.kind === 'ambiguous') {
        result.rejections.push({ ownerStem: stem, file: path, why: 'ambiguous' });
        continue;
      }
      if (resolution.runId !== stem) result.attributed.push({ role, file: path, stem, runId: resolution.runId, ownerStem: stem });
      if (log) {
        logLines(text).forEach((line, index) => {
          if (line.trim() === '') return;
          const json = parseJson(line);
          if (!isObject(json)) result.rejections.push({ ownerStem: stem, file: path, why: `line ${index + 1}` });
          else result.records.push({ role: 'logs', doc: logDocument(json, resolution.runId, index + 1), file: path, ownerStem: stem });
        });
      } else {
        const json = parseJson(text);
        if (!Array.isArray(json)) result.rejections.push({ ownerStem: stem, file: path, why: 'approvals file' });
        else for (const element of json) result.records.push({ role: 'approvals', doc: approvalDocument(element as Record<string, unknown>, resolution.runId), file: path, ownerStem: stem });
      }
    } else if (manifest) {
      const json = parseJson(text);
      if (!isObject(json)) {
        result.rejections.push({ ownerStem: manifest[1] as string, file: path, why: 'manifest' });
        continue;
      }
      const runId = String(json.runId);
      for (const output of json.outputs as Array<Record<string, unknown>>) {
        result.records.push({ role: 'artifacts', doc: artifactDocument(output, runId, date(json.uploadedAt)), file: path, ownerStem: sanitize(runId) });
      }
    }
  }
  return result;
}

// ------------------------------------------------------------------------------------------------
// What a completed import does to the database
// ------------------------------------------------------------------------------------------------

export interface ImportExpectation {
  db: ModelDb;
  rejected: number;
  conflict: number;
  keptNewer: number;
  exitCode: 0 | 3;
}

export interface ApplyOptions {
  overwrite?: boolean;
  /** `--partition K/N`: only records whose owner stem falls in K of N. */
  partition?: { index: number; count: number };
}

export function applyImport(before: ModelDb, files: Files, options: ApplyOptions = {}): ImportExpectation {
  const db = cloneDb(before);
  const clean = cleanImport(files);
  const owned = (stem: string): boolean => !options.partition || partitionOf(stem, options.partition.count) === options.partition.index;
  let conflict = 0;
  let keptNewer = 0;
  for (const record of clean.records) {
    if (!owned(record.ownerStem)) continue;
    const id = keyOf(record.role, record.doc);
    const stored = db[record.role].get(id);
    if (!stored) {
      db[record.role].set(id, record.doc);
      continue;
    }
    if (sameContent(record.doc, stored)) continue;
    if (record.role === 'logs') {
      conflict += 1; // log entries are immutable, even with overwrite
      continue;
    }
    const order = compareVersions(record.role, record.doc, stored);
    if (order > 0 || options.overwrite) db[record.role].set(id, { ...record.doc, _id: stored._id });
    else if (order < 0) keptNewer += 1;
    else conflict += 1;
  }
  // Re-homing: copies written under a file-name runId while the file was an orphan are deleted
  // once the file belongs to a run, when they are exactly what was written and the run holds the
  // same record.
  for (const moved of clean.attributed) {
    if (!owned(moved.ownerStem)) continue;
    for (const record of clean.records) {
      if (record.file !== moved.file) continue;
      const twin = moved.role === 'logs' ? logTwin(record.doc, moved.stem) : approvalTwin(record.doc, moved.stem);
      const storedTwin = db[moved.role].get(keyOf(moved.role, twin));
      const storedPlaced = db[moved.role].get(keyOf(moved.role, record.doc));
      if (storedTwin && storedPlaced && canonical(storedTwin) === canonical(twin) && sameContent(storedPlaced, record.doc)) {
        db[moved.role].delete(keyOf(moved.role, twin));
      }
    }
  }
  const rejected = clean.rejections.filter((rejection) => owned(rejection.ownerStem)).length;
  return { db, rejected, conflict, keptNewer, exitCode: rejected + conflict > 0 ? 3 : 0 };
}

function logTwin(doc: Document, runId: string): Document {
  return { ...doc, runId, _id: derivedId('pack_run_logs', [runId, String(doc.sequence)], doc.timestamp as Date) };
}

function approvalTwin(doc: Document, runId: string): Document {
  return { ...doc, runId, _id: derivedId('pack_run_approvals', [runId, String(doc.approvalId)], doc.requestedAt as Date) };
}

/** The model database as sorted canonical lines, one per document, per collection. */
export function dumpModel(db: ModelDb): Record<Role, string[]> {
  return Object.fromEntries(ROLES.map((role) => [role, [...db[role].values()].map((doc) => canonical(doc)).sort()])) as Record<Role, string[]>;
}
