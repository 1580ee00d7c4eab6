/**
 * Property tests for the pure normalizers. Deterministic by default (seed 42, 200 runs); a
 * nightly job can widen them: FC_SEED=$RANDOM FC_RUNS=20000 npx vitest run test/unit/property.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeApproval } from '../../src/normalize/approval.js';
import { normalizeArtifactOutput, type ManifestHeader } from '../../src/normalize/artifact-manifest.js';
import type { Normalized } from '../../src/normalize/invalid-record.js';
import { normalizeLogLine } from '../../src/normalize/log-entry.js';
import type { NormalizeContext } from '../../src/normalize/normalize-context.js';
import { normalizeRunState } from '../../src/normalize/run-state.js';
import type { ReasonCode } from '../../src/domain/outcomes.js';
import { parseJsonBytes } from '../../src/scan/read-json-file.js';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 42), numRuns: Number(process.env.FC_RUNS ?? 200) });

/** The README's "Rejection reason codes (stable)" list. */
const DOCUMENTED_REASONS: readonly ReasonCode[] = [
  'empty-file', 'unreadable', 'invalid-utf8', 'invalid-json', 'wrong-shape', 'missing-field', 'invalid-field',
  'invalid-date', 'unknown-enum', 'duplicate-key', 'ambiguous-run-id', 'run-id-mismatch', 'too-deep',
  'line-too-long', 'file-too-large', 'document-too-large', 'server-refused',
];

const context: NormalizeContext = { enumStyle: 'camel', warn: () => undefined };

type Json = Record<string, unknown>;

// ------------------------------------------------------------------------------------------------
// Generators of valid records, in every spelling the provider (or a hand edit) may use.
// ------------------------------------------------------------------------------------------------

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** An ISO-8601 timestamp with Z or ±hh:mm and 0-7 fraction digits, plus the Date it must become. */
const timestampArb = fc
  .record({
    year: fc.integer({ min: 1, max: 9999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
    fraction: fc.stringMatching(/^[0-9]{0,7}$/),
    offset: fc.oneof(
      fc.constant('Z'),
      fc
        // .NET offsets span -14:00 to +14:00.
        .tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 14 * 60 }))
        .map(([sign, minutes]) => `${sign}${pad(Math.floor(minutes / 60), 2)}:${pad(minutes % 60, 2)}`),
    ),
  })
  .map((t) => {
    const base = `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}`;
    const text = `${base}${t.fraction ? `.${t.fraction}` : ''}${t.offset}`;
    // The oracle: JavaScript's own parser on the same instant with the fraction truncated to 3 digits.
    const ms = (t.fraction + '000').slice(0, 3);
    const expected = new Date(`${base}.${ms}${t.offset}`);
    return { text, expected };
  });

/** A property name as camelCase or PascalCase. */
const casingArb = fc.boolean();
function cased(record: Json, pascal: readonly boolean[]): Json {
  return Object.fromEntries(
    Object.entries(record).map(([key, value], i) => [pascal[i % pascal.length] ? key.charAt(0).toUpperCase() + key.slice(1) : key, value]),
  );
}
const pascalArb = fc.array(casingArb, { minLength: 1, maxLength: 12 });

/** Random upper/lower case per character. */
function anyCase(text: string, flips: readonly boolean[]): string {
  return [...text].map((ch, i) => (flips[i % flips.length] ? ch.toUpperCase() : ch.toLowerCase())).join('');
}
const flipsArb = fc.array(fc.boolean(), { minLength: 1, maxLength: 8 });

const STEP_KINDS = ['Unknown', 'Run', 'GateApproval', 'GatePolicy', 'Parallel', 'Map', 'Loop', 'Conditional'];
const STEP_STATUSES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Skipped'];
const APPROVAL_STATUSES = ['Pending', 'Approved', 'Rejected', 'Expired'];
const camel = (name: string): string => name.charAt(0).toLowerCase() + name.slice(1);

/** An enum written as a name in any case or as its number; with the camelCase name it must become. */
function enumArb(names: readonly string[]): fc.Arbitrary<{ value: string | number; expected: string }> {
  return fc.tuple(fc.integer({ min: 0, max: names.length - 1 }), fc.boolean(), flipsArb).map(([ordinal, asNumber, flips]) => ({
    value: asNumber ? ordinal : anyCase(names[ordinal] as string, flips),
    expected: camel(names[ordinal] as string),
  }));
}

const LEVELS: ReadonlyArray<[string, string]> = [
  ['trace', 'trace'], ['debug', 'debug'], ['info', 'info'], ['information', 'info'],
  ['warn', 'warn'], ['warning', 'warn'], ['error', 'error'],
];
const levelArb = fc
  .tuple(fc.constantFrom(...LEVELS), flipsArb)
  .map(([[name, expected], flips]) => ({ value: anyCase(name, flips), expected }));

const safeKeyArb = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,8}$/);
/** Keys including the ones MongoDB cannot store as written. */
const anyKeyArb = fc
  .oneof(fc.string({ maxLength: 6 }), fc.constantFrom('$x', 'a.b', '', '%', 'a%2Eb', '\u0000', '$', '$$.%'))
  .filter((key) => key !== '__proto__');
const leafArb = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const { value: opaqueArb } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    leafArb,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(anyKeyArb, tie('value'), { maxKeys: 3 }),
  ),
}));

/** The README's key escaping, written independently of the code under test. */
function documentedEscape(name: string): string {
  if (!/[.%\u0000]/.test(name) && !name.startsWith('$')) return name;
  let out = '';
  for (const [i, ch] of [...name].entries()) {
    if (ch === '%') out += '%25';
    else if (ch === '.') out += '%2E';
    else if (ch === '\u0000') out += '%00';
    else if (ch === '$' && i === 0) out += '%24';
    else out += ch;
  }
  return out;
}
function escapedCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(escapedCopy);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [documentedEscape(k), escapedCopy(v)]));
}

/** JSON round trip, as the record would come out of a file. */
const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const logLineArb = fc
  .record({
    timestamp: timestampArb,
    level: levelArb,
    eventType: fc.string({ maxLength: 20 }),
    message: fc.string({ maxLength: 40 }),
    stepId: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
    stepIdNull: fc.boolean(),
    sequence: fc.option(fc.maxSafeNat(), { nil: undefined }),
    metadata: fc.option(fc.dictionary(safeKeyArb, fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 4 }), { nil: undefined }),
    lineNumber: fc.integer({ min: 1, max: 1_000_000 }),
    pascal: pascalArb,
  })
  .map((g) => {
    const record: Json = { timestamp: g.timestamp.text, level: g.level.value, eventType: g.eventType, message: g.message };
    if (g.stepId !== undefined) record.stepId = g.stepId;
    else if (g.stepIdNull) record.stepId = null;
    if (g.sequence !== undefined) record.sequence = g.sequence;
    if (g.metadata !== undefined) record.metadata = g.metadata;
    const expectedMetadata =
      g.metadata === undefined
        ? undefined
        : Object.fromEntries(Object.entries(g.metadata).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)]));
    return { json: viaJson(cased(record, g.pascal)) as Json, g, expectedMetadata };
  });

const stepArb = fc.record({
  kind: enumArb(STEP_KINDS),
  status: enumArb(STEP_STATUSES),
  enabled: fc.option(fc.boolean(), { nil: null }),
  attempts: fc.option(fc.nat(), { nil: null }),
  lastTransitionAt: fc.option(timestampArb, { nil: null }),
  statusReason: fc.option(fc.string({ maxLength: 10 }), { nil: null }),
  pascal: pascalArb,
});

const runStateArb = fc
  .record({
    runId: fc.string({ minLength: 1, maxLength: 20 }),
    planHash: fc.string({ maxLength: 20 }),
    plan: fc.dictionary(anyKeyArb, opaqueArb, { maxKeys: 4 }),
    maxAttempts: fc.integer({ min: -1000, max: 1000 }),
    backoffSeconds: fc.double({ noNaN: true, noDefaultInfinity: true }),
    continueOnError: fc.boolean(),
    requestedAt: timestampArb,
    createdAt: timestampArb,
    updatedAt: timestampArb,
    tenantId: fc.option(fc.string({ maxLength: 10 }), { nil: null }),
    steps: fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z0-9-]{1,8}$/), stepArb), { maxLength: 4, selector: ([id]) => id }),
    pascal: pascalArb,
  })
  .map((g) => {
    const steps = g.steps.map(([stepId, s]) =>
      cased(
        {
          stepId,
          kind: s.kind.value,
          status: s.status.value,
          enabled: s.enabled,
          attempts: s.attempts,
          lastTransitionAt: s.lastTransitionAt?.text ?? null,
          statusReason: s.statusReason,
        },
        s.pascal,
      ),
    );
    const record: Json = {
      runId: g.runId,
      planHash: g.planHash,
      plan: g.plan,
      failurePolicy: cased({ maxAttempts: g.maxAttempts, backoffSeconds: g.backoffSeconds, continueOnError: g.continueOnError }, g.pascal),
      requestedAt: g.requestedAt.text,
      createdAt: g.createdAt.text,
      updatedAt: g.updatedAt.text,
      tenantId: g.tenantId,
      steps,
    };
    return { json: viaJson(cased(record, g.pascal)) as Json, g };
  });

const approvalArb = fc
  .record({
    approvalId: fc.string({ minLength: 1, maxLength: 10 }),
    requiredGrants: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }),
    requestedAt: timestampArb,
    completedAt: fc.option(timestampArb, { nil: null }),
    status: enumArb(APPROVAL_STATUSES),
    actorId: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
    pascal: pascalArb,
  })
  .map((g) => ({
    json: viaJson(
      cased(
        {
          approvalId: g.approvalId,
          requiredGrants: g.requiredGrants,
          stepIds: [],
          messages: [],
          requestedAt: g.requestedAt.text,
          status: g.status.value,
          actorId: g.actorId,
          completedAt: g.completedAt?.text ?? null,
        },
        g.pascal,
      ),
    ) as Json,
    g,
  }));

const artifactArb = fc
  .record({
    name: fc.string({ minLength: 1, maxLength: 10 }),
    type: fc.string({ maxLength: 6 }),
    status: fc.constantFrom('pending', 'copied', 'materialized', 'skipped', 'Copied'),
    capturedAt: fc.option(timestampArb, { nil: undefined }),
    pascal: pascalArb,
  })
  .map((g) => {
    const record: Json = { name: g.name, type: g.type, sourcePath: null, storedPath: 'x', status: g.status, notes: null };
    if (g.capturedAt) record.capturedAt = g.capturedAt.text;
    return { json: viaJson(cased(record, g.pascal)) as Json, g };
  });

const HEADER: ManifestHeader = { runId: 'run-1', uploadedAt: new Date('2025-11-06T09:10:00Z'), outputs: [] };

// ------------------------------------------------------------------------------------------------
// Valid records normalize to the documented shapes.
// ------------------------------------------------------------------------------------------------

describe('property: valid records normalize to the documented shapes', () => {
  it('log lines', () => {
    fc.assert(
      fc.property(logLineArb, ({ json, g, expectedMetadata }) => {
        const result = normalizeLogLine({ json, runId: 'run-1', fileStem: 'run-1', lineNumber: g.lineNumber }, context);
        if (!result.ok) throw new Error(`rejected ${result.reason}: ${result.message}`);
        const doc = result.doc;
        expect(doc.runId).toBe('run-1');
        expect(typeof doc.sequence).toBe('bigint');
        expect(doc.sequence).toBe(BigInt(g.sequence ?? g.lineNumber));
        expect(doc.timestamp).toBeInstanceOf(Date);
        expect(doc.timestamp.getTime()).toBe(g.timestamp.expected.getTime());
        expect(doc.level).toBe(g.level.expected);
        expect(doc.eventType).toBe(g.eventType);
        expect(doc.message).toBe(g.message);
        if (g.stepId !== undefined) expect(doc.stepId).toBe(g.stepId);
        else expect('stepId' in doc).toBe(false);
        if (expectedMetadata === undefined) expect('metadata' in doc).toBe(false);
        else expect(doc.metadata).toEqual(expectedMetadata);
      }),
    );
  });

  it('run states', () => {
    fc.assert(
      fc.property(runStateArb, ({ json, g }) => {
        const result = normalizeRunState({ json, fileStem: 'file-stem' }, context);
        if (!result.ok) throw new Error(`rejected ${result.reason}: ${result.message}`);
        const doc = result.doc;
        expect(doc._id).toBe(g.runId);
        expect(doc.planHash).toBe(g.planHash);
        expect(doc.plan).toEqual(escapedCopy(viaJson(g.plan)));
        expect(doc.failurePolicy).toEqual(viaJson({ maxAttempts: g.maxAttempts, backoffSeconds: g.backoffSeconds, continueOnError: g.continueOnError }));
        for (const field of ['requestedAt', 'createdAt', 'updatedAt'] as const) {
          expect(doc[field]).toBeInstanceOf(Date);
          expect(doc[field].getTime()).toBe(g[field].expected.getTime());
        }
        if (g.tenantId === null) expect('tenantId' in doc).toBe(false);
        else expect(doc.tenantId).toBe(g.tenantId);
        expect(doc.steps.map((s) => s.stepId)).toEqual(g.steps.map(([id]) => id));
        doc.steps.forEach((s, i) => {
          const gen = (g.steps[i] as [string, (typeof g.steps)[number][1]])[1];
          expect(s.kind).toBe(gen.kind.expected);
          expect(s.status).toBe(gen.status.expected);
          expect(s.enabled).toBe(gen.enabled);
          expect(s.attempts).toBe(gen.attempts);
          expect(s.statusReason).toBe(gen.statusReason);
          expect(s.lastTransitionAt?.getTime() ?? null).toBe(gen.lastTransitionAt?.expected.getTime() ?? null);
        });
      }),
    );
  });

  it('approvals and artifact outputs', () => {
    fc.assert(
      fc.property(approvalArb, artifactArb, (approval, artifact) => {
        const a = normalizeApproval(approval.json, 'run-1', context);
        if (!a.ok) throw new Error(`approval rejected ${a.reason}: ${a.message}`);
        expect(a.doc.status).toBe(approval.g.status.expected);
        expect(a.doc.requestedAt.getTime()).toBe(approval.g.requestedAt.expected.getTime());
        expect(a.doc.completedAt?.getTime() ?? null).toBe(approval.g.completedAt?.expected.getTime() ?? null);
        const o = normalizeArtifactOutput(artifact.json, HEADER, context);
        if (!o.ok) throw new Error(`artifact rejected ${o.reason}: ${o.message}`);
        expect(o.doc.status).toBe(artifact.g.status.toLowerCase());
        expect(o.doc.capturedAt.getTime()).toBe((artifact.g.capturedAt?.expected ?? HEADER.uploadedAt)?.getTime());
      }),
    );
  });
});

// ------------------------------------------------------------------------------------------------
// Corrupted records never throw and always end as exactly one outcome.
// ------------------------------------------------------------------------------------------------

type Corruption =
  | { kind: 'drop'; pick: number }
  | { kind: 'replace'; pick: number; value: unknown }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert-byte'; at: number; byte: number };

const corruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert-byte' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

/**
 * Applies one corruption; returns the value to normalize, or a reader rejection when the bytes no
 * longer parse (the reader's answer must then itself be one of the documented reasons).
 */
function corrupt(json: Json, required: readonly string[], c: Corruption): { json: unknown } | { readerReason: ReasonCode } {
  if (c.kind === 'drop' || c.kind === 'replace') {
    const keys = Object.keys(json);
    const copy: Json = { ...json };
    if (c.kind === 'drop') {
      const present = keys.filter((k) => required.includes(k.toLowerCase()));
      const key = present[c.pick % Math.max(present.length, 1)];
      if (key !== undefined) delete copy[key];
    } else if (keys.length > 0) {
      copy[keys[c.pick % keys.length] as string] = c.value;
    }
    return { json: copy };
  }
  const bytes = Buffer.from(JSON.stringify(json));
  const mutated =
    c.kind === 'truncate'
      ? bytes.subarray(0, c.at % bytes.length)
      : Buffer.concat([bytes.subarray(0, c.at % (bytes.length + 1)), Buffer.from([c.byte]), bytes.subarray(c.at % (bytes.length + 1))]);
  const parsed = parseJsonBytes(mutated);
  return parsed.ok ? { json: parsed.json } : { readerReason: parsed.reason };
}

function expectOneOutcome(result: Normalized<unknown>): void {
  expect(typeof result.ok).toBe('boolean');
  if (result.ok) {
    expect(result.doc).toBeDefined();
    expect('reason' in result).toBe(false);
  } else {
    expect(DOCUMENTED_REASONS).toContain(result.reason);
    expect(typeof result.message).toBe('string');
    expect('doc' in result).toBe(false);
  }
}

describe('property: corrupted records never throw and end as exactly one outcome', () => {
  const cases: Array<{
    name: string;
    arb: fc.Arbitrary<{ json: Json }>;
    required: string[];
    normalize: (json: unknown) => Normalized<unknown>;
  }> = [
    {
      name: 'normalizeLogLine',
      arb: logLineArb,
      required: ['timestamp', 'level', 'eventtype', 'message'],
      normalize: (json) => normalizeLogLine({ json, runId: 'run-1', fileStem: 'run-1', lineNumber: 3 }, context),
    },
    {
      name: 'normalizeRunState',
      arb: runStateArb,
      required: ['plan', 'planhash', 'failurepolicy', 'requestedat', 'createdat', 'updatedat'],
      normalize: (json) => normalizeRunState({ json, fileStem: 'stem' }, context),
    },
    {
      name: 'normalizeApproval',
      arb: approvalArb,
      required: ['approvalid', 'requestedat', 'status'],
      normalize: (json) => normalizeApproval(json, 'run-1', context),
    },
    {
      name: 'normalizeArtifactOutput',
      arb: artifactArb,
      required: ['name', 'type', 'status'],
      normalize: (json) => normalizeArtifactOutput(json, HEADER, context),
    },
  ];

  for (const { name, arb, required, normalize } of cases) {
    it(name, () => {
      fc.assert(
        fc.property(arb, corruptionArb, ({ json }, c) => {
          const input = corrupt(json, required, c);
          if ('readerReason' in input) {
            expect(DOCUMENTED_REASONS).toContain(input.readerReason);
            return;
          }
          let result: Normalized<unknown> | undefined;
          expect(() => {
            result = normalize(input.json);
          }).not.toThrow();
          expectOneOutcome(result as Normalized<unknown>);
          // Dropping a required field must reject the record.
          if (c.kind === 'drop' && Object.keys(input.json as Json).length < Object.keys(json).length) {
            expect((result as Normalized<unknown>).ok).toBe(false);
          }
        }),
      );
    });
  }
});
