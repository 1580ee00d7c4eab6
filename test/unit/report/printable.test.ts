import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { printable } from '../../../src/report/printable.js';
import { renderImportText } from '../../../src/report/render-import-text.js';
import { md } from '../../../src/report/render-verify-markdown.js';
import { esc } from '../../../src/report/render-verify-html.js';
import type { ImportReport } from '../../../src/report/import-report.js';

/** Everything that must never reach a terminal raw (see printable.ts). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

describe('printable', () => {
  it('shows NUL, ESC, CR, LF, TAB, BEL, DEL and C1 controls as \\xHH escapes', () => {
    expect(printable('run-\u0000.ndjson')).toBe('run-\\x00.ndjson');
    expect(printable('\u001b[2J')).toBe('\\x1b[2J');
    expect(printable('a\rb\nc\td\u0007e\u007ff\u009bg')).toBe('a\\x0db\\x0ac\\x09d\\x07e\\x7ff\\x9bg');
  });

  it('shows bidi overrides, isolates and marks and the line separators as \\u{...} escapes', () => {
    expect(printable('evil\u202egnp.exe')).toBe('evil\\u{202e}gnp.exe');
    expect(printable('\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029')).toBe(
      '\\u{2066}\\u{2067}\\u{2068}\\u{2069}\\u{200e}\\u{200f}\\u{61c}\\u{2028}\\u{2029}',
    );
  });

  it('leaves ordinary text alone: paths, JSON excerpts with backslashes, accents, CJK, emoji', () => {
    for (const text of ['logs/runs/run-7.ndjson', '{"message":"a\\"b"}', 'café 東京 🚀', 'C:\\temp\\x', '']) {
      expect(printable(text)).toBe(text);
    }
  });

  it('never lets an unsafe character through, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const shown = printable(text);
        expect(UNSAFE.test(shown)).toBe(false);
        expect(shown.includes('\n')).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('is the identity on text without unsafe characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        fc.pre(!UNSAFE.test(text));
        expect(printable(text)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('text renderers escape input-derived text', () => {
  const hostile = 'logs/runs/evil-\u001b[2J\u202ename\u0000.ndjson';

  it('the import summary shows a hostile file name, message and runId escaped, on one line each', () => {
    const report = importReportWith(hostile);
    const text = renderImportText(report, 3);
    expect(UNSAFE.test(text.replace(/\n/g, ''))).toBe(false);
    expect(text).toContain('logs/runs/evil-\\x1b[2J\\u{202e}name\\x00.ndjson:3: [invalid-json] not valid JSON: "\\x07\\x0d"');
    expect(text).toContain('Orphans (files with no state file): run-\\x1b]0;pwned\\x07');
  });

  it('the Markdown and HTML reports show control characters as visible escapes too', () => {
    expect(md(hostile)).toContain('evil-\\\\x1b\\[2J\\\\u{202e}name\\\\x00.ndjson');
    expect(esc(hostile)).toBe('logs/runs/evil-\\x1b[2J\\u{202e}name\\x00.ndjson');
    expect(esc('<b>\u0007')).toBe('&lt;b&gt;\\x07');
  });
});

function importReportWith(file: string): ImportReport {
  const zero = { inserted: 0, updated: 0, unchanged: 0, keptNewer: 0, conflict: 0, rejected: 0, accepted: 0 };
  return {
    command: 'import',
    tool: { name: 'taskrunner-backfill', version: 'test' },
    startedAt: '2025-11-06T09:00:00.000Z',
    finishedAt: '2025-11-06T09:00:01.000Z',
    durationMs: 1000,
    source: '/tmp/source',
    database: { name: 'db', server: 'mongodb://127.0.0.1/db' },
    complete: true,
    files: { runs: 0, logs: 1, approvals: 0, artifacts: 0, ignored: 0, skippedUnchanged: 0 },
    collections: {
      runs: { name: 'pack_runs', ...zero },
      logs: { name: 'pack_run_logs', ...zero, rejected: 1 },
      approvals: { name: 'pack_run_approvals', ...zero },
      artifacts: { name: 'pack_artifacts', ...zero },
    },
    totals: { ...zero, rejected: 1 },
    rejections: [
      { collection: 'logs', file, line: 3, reason: 'invalid-json', message: 'not valid JSON: "\u0007\r"', hint: 'Fix the JSON.', fingerprint: 'f'.repeat(16) },
    ],
    conflicts: [],
    keptNewer: [],
    detailsTruncated: false,
    acceptedRejections: [],
    unusedAcceptances: 0,
    orphanRunIds: ['run-\u001b]0;pwned\u0007'],
    warnings: [],
  };
}
