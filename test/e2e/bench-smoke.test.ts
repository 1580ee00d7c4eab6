/**
 * Smoke test of `npm run bench` at a tiny size: it completes, its last line is the documented JSON
 * object, and the tool's import (A) wrote byte-for-byte the same documents as the raw driver (B)
 * and as the import killed and resumed (D).
 * Never a timing assertion: the figures are only checked to be present.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

describe('bench script (smoke, small size)', () => {
  it('completes, prints the result JSON last, and A, B and the resumed D hold the same documents', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
    try {
      const out = path.join(outDir, 'bench.json');
      const { stdout } = await run(
        process.execPath,
        [path.join(repoRoot, 'dist/scripts/bench.js'), '--runs', '4', '--lines', '400', '--repeat', '1', '--batch-size', '50', '--compare-documents', '--out', out],
        { env: { ...process.env, MONGODB_URI: inject('mongoUri') }, maxBuffer: 16 * 1024 * 1024 },
      );
      const lastLine = stdout.trim().split('\n').at(-1) ?? '';
      const result = JSON.parse(lastLine) as Record<string, unknown>;
      expect(result.ok).toBe(true);
      expect(result.documentsMatch).toBe(true);
      expect(result.resumeMatches).toBe(true); // D (killed, then resumed) ends identical to A
      expect(result.logLines).toBe(400);
      expect(result.documents).toBe(4 + 400 + 4 * 2 + 4 * 3);
      for (const key of ['importVsRaw', 'rerunVsImport', 'resumeVsImport', 'peakRssMb', 'docsPerSecond']) {
        expect(typeof result[key], key).toBe('number');
        expect(Number.isFinite(result[key] as number), key).toBe(true);
      }
      const saved = JSON.parse(await readFile(out, 'utf8')) as { samples: { importMs: number[] } };
      expect(saved.samples.importMs).toHaveLength(1);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }, 180_000);
});
