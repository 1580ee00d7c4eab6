import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatLogRecord } from '../../../src/cli/log-text.js';
import { createLogger, resolveLogFormat } from '../../../src/cli/logger.js';
import { StderrLines } from '../../../src/cli/stderr-lines.js';

const UNSAFE = /[\u0000-\u0008\u000a-\u001a\u001c-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
const time = new Date(2025, 10, 6, 9, 4, 5).getTime();

describe('formatLogRecord (the text log format)', () => {
  it('gives one line: local time, level, message, then the fields; no JSON braces for plain fields', () => {
    const line = formatLogRecord(
      JSON.stringify({ level: 30, time, tool: 'taskrunner-backfill', source: '/var/lib/taskrunner', database: 'taskrunner', msg: 'import starting' }),
      { color: false },
    );
    expect(line).toBe('09:04:05 INFO  import starting source=/var/lib/taskrunner database=taskrunner');
  });

  it('labels every level and quotes strings with spaces; objects are compact JSON', () => {
    const warn = formatLogRecord(JSON.stringify({ level: 40, time, msg: 'careful', note: 'two words', files: { runs: 3 }, ok: true, n: 2 }), { color: false });
    expect(warn).toBe('09:04:05 WARN  careful note="two words" files={"runs":3} ok=true n=2');
    expect(formatLogRecord(JSON.stringify({ level: 50, time, msg: 'x' }), { color: false })).toMatch(/^09:04:05 ERROR x$/);
    expect(formatLogRecord(JSON.stringify({ level: 20, time, msg: 'x' }), { color: false })).toMatch(/^09:04:05 DEBUG x$/);
  });

  it('colors only the level label, and only when asked', () => {
    const colored = formatLogRecord(JSON.stringify({ level: 40, time, msg: 'careful' }), { color: true });
    expect(colored).toBe('09:04:05 \u001b[33mWARN \u001b[0m careful');
    expect(formatLogRecord(JSON.stringify({ level: 40, time, msg: 'careful' }), { color: false })).not.toContain('\u001b');
  });

  it('escapes control characters from the input in the message, in field values and in keys', () => {
    const line = formatLogRecord(
      JSON.stringify({
        level: 30,
        time,
        msg: 'log grew: logs/runs/a\u0000b\u001b[2J.ndjson\r',
        file: 'logs/runs/evil-\u001b]0;title\u0007\u202egnp.ndjson',
        excerpt: 'not json \u0000 \u0007 here',
        ['k\u001b']: 1,
      }),
      { color: false },
    );
    expect(UNSAFE.test(line)).toBe(false);
    expect(line).not.toContain('\u001b');
    expect(line).toContain('log grew: logs/runs/a\\x00b\\x1b[2J.ndjson\\x0d');
    expect(line).toContain('file=logs/runs/evil-\\x1b]0;title\\x07\\u{202e}gnp.ndjson');
    expect(line).toContain('excerpt="not json \\u0000 \\u0007 here"');
    expect(line).toContain('k\\x1b=1');
  });

  it('keeps a record that is not JSON visible, escaped', () => {
    expect(formatLogRecord('plain \u0007 text\n', { color: false })).toBe('plain \\x07 text');
  });
});

describe('the log format choice', () => {
  it('auto is text on a terminal and JSON otherwise; an explicit choice wins', () => {
    expect(resolveLogFormat(undefined, true)).toBe('text');
    expect(resolveLogFormat('auto', true)).toBe('text');
    expect(resolveLogFormat(undefined, false)).toBe('json');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('text', false)).toBe('text');
  });

  it('a text logger writes readable scrubbed lines; a JSON logger writes pino records', () => {
    const textOut = capture();
    const text = createLogger('info', ['s3cret'], { format: 'text', lines: new StderrLines(textOut.stream), color: false });
    text.info({ uri: 'mongodb://u:s3cret@h/db', file: 'a\u0000b' }, 'connecting with s3cret');
    expect(textOut.text()).toMatch(/^\d\d:\d\d:\d\d INFO {2}connecting with \*\*\* uri=mongodb:\/\/u:\*\*\*@h\/db file=a\\x00b\n$/);

    const jsonOut = capture();
    const json = createLogger('info', ['s3cret'], { format: 'json', lines: new StderrLines(jsonOut.stream), color: false });
    json.warn({ file: 'a\u0000b' }, 'careful s3cret');
    const record = JSON.parse(jsonOut.text()) as Record<string, unknown>;
    expect(record).toMatchObject({ level: 40, msg: 'careful ***', file: 'a\u0000b', tool: 'taskrunner-backfill' });
    expect(jsonOut.text().split('\n')).toHaveLength(2);
  });
});

function capture(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
