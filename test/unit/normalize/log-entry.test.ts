import fc from 'fast-check';
import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import type { LogDocument } from '../../../src/normalize/documents.js';
import { normalizeLogLine, type LogLineInput } from '../../../src/normalize/log-entry.js';
import type { NormalizeContext } from '../../../src/normalize/normalize-context.js';
import type { WarningCode } from '../../../src/domain/outcomes.js';
import { logLine } from '../../helpers/source-tree.js';

function collect(): { context: NormalizeContext; warnings: Array<{ code: WarningCode; detail: string }> } {
  const warnings: Array<{ code: WarningCode; detail: string }> = [];
  return { context: { enumStyle: 'camel', warn: (code, detail) => warnings.push({ code, detail }) }, warnings };
}

const input = (json: unknown, overrides: Partial<LogLineInput> = {}): LogLineInput => ({
  json,
  runId: 'run-7f3c',
  fileStem: 'run-7f3c',
  lineNumber: 1,
  ...overrides,
});

function accept(json: unknown, overrides: Partial<LogLineInput> = {}): LogDocument {
  const result = normalizeLogLine(input(json, overrides), collect().context);
  if (!result.ok) throw new Error(`rejected: ${result.reason}: ${result.message}`);
  return result.doc;
}

function reject(json: unknown, overrides: Partial<LogLineInput> = {}): { reason: string; message: string } {
  const result = normalizeLogLine(input(json, overrides), collect().context);
  if (result.ok) throw new Error('expected a rejection');
  return result;
}

describe('normalizeLogLine', () => {
  it('builds the pack_run_logs document', () => {
    const doc = accept(logLine({ timestamp: '2025-11-06T09:03:05.1234567+00:00' }), { lineNumber: 3 });
    expect(doc).toEqual({
      _id: expect.any(ObjectId),
      runId: 'run-7f3c',
      sequence: 3n,
      timestamp: new Date('2025-11-06T09:03:05.123Z'),
      level: 'info',
      eventType: 'step.started',
      message: 'Step build started.',
      stepId: 'build',
      metadata: { attempt: '1' },
    });
  });

  it('uses the physical line number as sequence, as a bigint (written as BSON Int64)', () => {
    const doc = accept(logLine(), { lineNumber: 7 });
    expect(typeof doc.sequence).toBe('bigint');
    expect(doc.sequence).toBe(7n);
  });

  it('prefers the line\'s own sequence over its line number', () => {
    expect(accept(logLine({ sequence: 4 }), { lineNumber: 5 }).sequence).toBe(4n);
    expect(accept(logLine({ Sequence: 0 }), { lineNumber: 5 }).sequence).toBe(0n);
    expect(accept(logLine({ sequence: Number.MAX_SAFE_INTEGER }), { lineNumber: 5 }).sequence).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    for (const sequence of [-1, 1.5, '3', 2 ** 53, true]) {
      expect(reject(logLine({ sequence })).reason, String(sequence)).toBe('invalid-field');
    }
  });

  it('derives a deterministic ObjectId from the unique key', () => {
    const a = accept(logLine(), { lineNumber: 2 });
    const b = accept(logLine({ message: 'other text' }), { lineNumber: 2 });
    const c = accept(logLine(), { lineNumber: 3 });
    expect(a._id.equals(b._id)).toBe(true);
    expect(a._id.equals(c._id)).toBe(false);
  });

  it('accepts the level aliases in any case and nothing else', () => {
    const levels: Array<[string, string]> = [
      ['trace', 'trace'],
      ['Debug', 'debug'],
      ['info', 'info'],
      ['INFO', 'info'],
      ['Information', 'info'],
      ['warn', 'warn'],
      ['WARN', 'warn'],
      ['Warning', 'warn'],
      ['Error', 'error'],
    ];
    for (const [level, expected] of levels) expect(accept(logLine({ level })).level, level).toBe(expected);
    for (const level of ['fatal', 'critical', 'verbose', 'err', 3, '']) {
      const result = reject(logLine({ level }));
      expect(result.reason, String(level)).toBe('unknown-enum');
    }
    expect(reject(logLine({ level: undefined })).reason).toBe('missing-field');
  });

  it('keeps string metadata, converts numbers, booleans, objects and arrays to text, drops nulls, counting each', () => {
    const { context, warnings } = collect();
    const metadata = {
      worker: 'tr-worker-2',
      queueDepth: 3,
      ratio: 0.25,
      cached: false,
      image: { tag: '1.4.2', repository: 'app' },
      failedSteps: ['scan', 2],
      stderrTail: null,
      empty: '',
    };
    const result = normalizeLogLine(input(logLine({ metadata })), context);
    if (!result.ok) throw new Error(result.message);
    expect(result.doc.metadata).toEqual({
      worker: 'tr-worker-2',
      queueDepth: '3',
      ratio: '0.25',
      cached: 'false',
      image: '{"repository":"app","tag":"1.4.2"}',
      failedSteps: '["scan",2]',
      empty: '',
    });
    for (const value of Object.values(result.doc.metadata ?? {})) expect(typeof value).toBe('string');
    const conversions = warnings.filter((w) => w.code === 'metadata-converted');
    expect(conversions).toHaveLength(6);
    expect(conversions.filter((w) => w.detail.includes('number'))).toHaveLength(2);
    expect(conversions.filter((w) => w.detail.includes('boolean'))).toHaveLength(1);
    expect(conversions.filter((w) => w.detail.includes('object'))).toHaveLength(1);
    expect(conversions.filter((w) => w.detail.includes('array'))).toHaveLength(1);
    expect(conversions.filter((w) => w.detail.includes('null'))).toHaveLength(1);
  });

  it('records no conversion for metadata that is already all strings', () => {
    const { context, warnings } = collect();
    expect(normalizeLogLine(input(logLine({ metadata: { a: '1' } })), context).ok).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('omits metadata and stepId when missing or null; rejects metadata that is not an object', () => {
    for (const line of [logLine({ metadata: null, stepId: null }), logLine({ metadata: undefined, stepId: undefined })]) {
      const doc = accept(line);
      expect(Object.hasOwn(doc, 'metadata')).toBe(false);
      expect(Object.hasOwn(doc, 'stepId')).toBe(false);
    }
    expect(reject(logLine({ metadata: 'attempt=1' })).reason).toBe('invalid-field');
    expect(reject(logLine({ metadata: ['a'] })).reason).toBe('invalid-field');
  });

  it('rejects metadata nested 100,000 levels deep as too-deep', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`) as unknown;
    expect(reject(logLine({ metadata: { deep } })).reason).toBe('too-deep');
  });

  it('reads PascalCase keys', () => {
    const doc = accept({
      Timestamp: '2025-11-05T16:00:00.5-08:00',
      Level: 'Information',
      EventType: 'run.created',
      Message: 'Run created.',
      StepId: null,
      Metadata: { Pack: 'deploy@1' },
    });
    expect(doc).toMatchObject({ timestamp: new Date('2025-11-06T00:00:00.500Z'), level: 'info', eventType: 'run.created', message: 'Run created.' });
    expect(doc.metadata).toEqual({ Pack: 'deploy@1' });
    expect(Object.hasOwn(doc, 'stepId')).toBe(false);
  });

  it('accepts a line runId that equals the file\'s run or maps to the file name after sanitizing', () => {
    const file = { runId: 'tenant-a:nightly/42', fileStem: 'tenant-a_nightly_42' };
    expect(accept(logLine({ runId: 'tenant-a:nightly/42' }), file).runId).toBe('tenant-a:nightly/42');
    expect(accept(logLine({ RunId: 'tenant-a:nightly/42' }), file).runId).toBe('tenant-a:nightly/42');
    // Another runId whose sanitized form is the same file name names its own run.
    expect(accept(logLine({ runId: 'tenant-a/nightly:42' }), file).runId).toBe('tenant-a/nightly:42');
  });

  it('rejects a line runId that does not belong to the file', () => {
    const file = { runId: 'tenant-a:nightly/42', fileStem: 'tenant-a_nightly_42' };
    for (const runId of ['run-7f3c', 'tenant-a_nightly_43', '']) {
      const result = reject(logLine({ runId }), file);
      expect(result.reason, runId).toBe('run-id-mismatch');
    }
    expect(reject(logLine({ runId: 42 }), file).reason).toBe('invalid-field');
  });

  it('rejects lines missing a required field, naming it', () => {
    for (const field of ['timestamp', 'eventType', 'message']) {
      const result = reject(logLine({ [field]: undefined }));
      expect(result.reason).toBe('missing-field');
      expect(result.message).toContain(`"${field}"`);
    }
    expect(reject(logLine({ timestamp: '2025-11-06T09:03:05' })).reason).toBe('invalid-date');
    expect(reject('just text').reason).toBe('wrong-shape');
  });

  it('warns about an unknown field and does not copy it', () => {
    const { context, warnings } = collect();
    const result = normalizeLogLine(input(logLine({ host: 'tr-worker-2' })), context);
    expect(result.ok && Object.hasOwn(result.doc, 'host')).toBe(false);
    expect(warnings).toEqual([{ code: 'unknown-field', detail: expect.stringContaining('"host"') }]);
  });

  // A line with exactly the canonical names takes a fast path (direct reads); any other spelling
  // the case-insensitive one. The two must give the same document, rejection and warnings.
  it('gives the same outcome whether a line takes the canonical fast path or the case-insensitive one (fast-check)', () => {
    const text = fc.oneof(fc.string(), fc.constantFrom('', ' ', 'run-7f3c', 'run-other'));
    const anything = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}));
    const line = fc.record(
      {
        timestamp: fc.oneof(
          fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((date) => date.toISOString()),
          fc.constantFrom('2025-11-06T09:03:05.1234567+01:00', '2025-11-06 09:03:05Z', '2025-02-30T00:00:00Z'),
          anything,
        ),
        level: fc.oneof(fc.constantFrom('info', 'Information', 'WARN', ' debug ', 'Warning', 'error', 'bogus', 'trace'), anything),
        eventType: fc.oneof(text, anything),
        message: fc.oneof(text, anything),
        stepId: fc.oneof(text, anything),
        metadata: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.dictionary(fc.string(), fc.jsonValue()), anything),
        sequence: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, 2 ** 53), anything),
        runId: fc.oneof(fc.constantFrom('run-7f3c', 'run-other'), anything),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(line, fc.nat(), (json, pick) => {
        const names = Object.keys(json);
        fc.pre(names.length > 0);
        const renamed = names[pick % names.length] as string;
        const spelledOtherwise = Object.fromEntries(Object.entries(json).map(([name, value]) => [name === renamed ? renamed[0]!.toUpperCase() + renamed.slice(1) : name, value]));
        const fast = collect();
        const general = collect();
        const viaFast = normalizeLogLine(input(json), fast.context);
        const viaGeneral = normalizeLogLine(input(spelledOtherwise), general.context);
        expect(viaFast).toEqual(viaGeneral);
        expect(fast.warnings).toEqual(general.warnings);
      }),
      { numRuns: 3000 },
    );
  });
});

