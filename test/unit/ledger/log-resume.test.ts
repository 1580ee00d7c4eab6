import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifiedPrefixHash } from '../../../src/ledger/ledger-store.js';
import type { LedgerFileEntry } from '../../../src/ledger/ledger-types.js';
import { logResumeCandidate } from '../../../src/ledger/skip-rules.js';
import type { SourceFile } from '../../../src/domain/source-file.js';

const sha = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

describe('verifiedPrefixHash', () => {
  let dir: string;
  let file: string;
  const content = Buffer.from('line one\nline two\nline three\npartial line without end');
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'prefix-hash-'));
    file = path.join(dir, 'run.ndjson');
    await writeFile(file, content);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('checks the hashed range and returns a running hash of the resume prefix', async () => {
    const resumeAt = 'line one\nline two\n'.length;
    const hashedTo = resumeAt + 7; // a chunk end inside the next line
    const running = await verifiedPrefixHash(file, resumeAt, sha(content.subarray(0, hashedTo)), hashedTo);
    expect(running).toBeDefined();
    // Continuing the returned hash over the rest gives the whole file's hash.
    expect(running?.update(content.subarray(resumeAt)).digest('hex')).toBe(sha(content));
  });

  it('returns nothing when the hashed bytes changed, the file is shorter, or the ranges are inverted', async () => {
    expect(await verifiedPrefixHash(file, 9, sha('line one\nline XXX'), 17)).toBeUndefined();
    expect(await verifiedPrefixHash(file, 9, sha(content), content.length + 10)).toBeUndefined();
    expect(await verifiedPrefixHash(file, 17, sha(content.subarray(0, 9)), 9)).toBeUndefined();
  });

  it('without a separate hashed range, behaves as before: the prefix up to the offset', async () => {
    const running = await verifiedPrefixHash(file, 9, sha(content.subarray(0, 9)));
    expect(running?.update(content.subarray(9)).digest('hex')).toBe(sha(content));
  });
});

describe('logResumeCandidate', () => {
  const file = (size: number): SourceFile => ({ role: 'logs', relativePath: 'logs/runs/r.ndjson', absolutePath: '/x', size, mtimeMs: 1 });
  const entry = (overrides: Partial<LedgerFileEntry>): LedgerFileEntry =>
    ({ role: 'logs', status: 'done', sha256: 'abc', endOffset: 100, nextLine: 5, optionsKey: 'k', hashedTo: null, ...overrides }) as LedgerFileEntry;

  it('resumes a grown done log, and a partial log the file still covers', () => {
    expect(logResumeCandidate(file(150), entry({}), 'k')).toBeDefined();
    expect(logResumeCandidate(file(100), entry({}), 'k')).toBeUndefined(); // not grown: nothing to read
    expect(logResumeCandidate(file(120), entry({ status: 'partial', hashedTo: 120 }), 'k')).toBeDefined();
    expect(logResumeCandidate(file(119), entry({ status: 'partial', hashedTo: 120 }), 'k')).toBeUndefined(); // shrank
  });

  it('never resumes a file with issues, other output options, no hash or another role', () => {
    expect(logResumeCandidate(file(150), entry({ status: 'done-with-issues' }), 'k')).toBeUndefined();
    expect(logResumeCandidate(file(150), entry({}), 'other')).toBeUndefined();
    expect(logResumeCandidate(file(150), entry({ sha256: null }), 'k')).toBeUndefined();
    expect(logResumeCandidate(file(150), entry({ role: 'runs' }), 'k')).toBeUndefined();
    expect(logResumeCandidate(file(150), undefined, 'k')).toBeUndefined();
  });
});
