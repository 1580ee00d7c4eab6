/**
 * Smoke test of `npm run bench` at a tiny size, every phase (A B C D N V S P): it completes, its
 * last line is the documented JSON object, and the tool's import (A) wrote byte-for-byte the same
 * documents as the raw driver (B) and as the import killed and resumed (D).
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
  it('completes every phase, prints the result JSON last, and A, B and the resumed D hold the same documents', async () => {
    const outDir = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
    try {
      const out = path.join(outDir, 'bench.json');
      const { stdout } = await run(
        process.execPath,
        [path.join(repoRoot, 'dist/scripts/bench.js'), '--runs', '4', '--lines', '400', '--repeat', '1', '--batch-size', '50', '--small-runs', '10', '--compare-documents', '--out', out],
        { env: { ...process.env, MONGODB_URI: inject('mongoUri') }, maxBuffer: 16 * 1024 * 1024 },
      );
      const lastLine = stdout.trim().split('\n').at(-1) ?? '';
      const result = JSON.parse(lastLine) as Record<string, unknown>;
      expect(result.ok).toBe(true);
      expect(result.documentsMatch).toBe(true);
      expect(result.resumeMatches).toBe(true); // D (killed, then resumed) ends identical to A
      expect(result.logLines).toBe(400);
      expect(result.documents).toBe(4 + 400 + 4 * 2 + 4 * 3);
      expect(result.phases).toBe('ABCDNPSV');
      for (const key of ['importVsRaw', 'rerunVsImport', 'resumeVsImport', 'verifyVsImport', 'cpuVsNaive', 'smallFilesRerunVsImport', 'peakRssMb', 'docsPerSecond']) {
        expect(typeof result[key], key).toBe('number');
        expect(Number.isFinite(result[key] as number), key).toBe(true);
      }
      // With --workers: records/s with 2 threads over 1; without it null, beside the one-thread rate.
      const plan = result.planRecordsPerSecond as Partial<Record<string, number>>;
      if (result.planScaling === null) expect(plan.oneThread).toBeGreaterThan(0);
      else expect([typeof result.planScaling, (plan.workers1 ?? 0) > 0, (plan.workers2 ?? 0) > 0]).toEqual(['number', true, true]);
      expect(result.smallFiles).toEqual({ runs: 10, files: 40, documents: 10 + 10 * 4 + 10 * 2 + 10 * 3 });
      expect(result.server).toMatchObject({ kind: expect.any(String) as unknown, description: expect.any(String) as unknown });
      expect(result.machine).toMatchObject({ cores: expect.any(Number) as unknown });
      expect(result.loadAverage).toMatchObject({ start: expect.any(Array) as unknown, end: expect.any(Array) as unknown });
      const medians = result.medianMs as Record<string, number | null>;
      for (const phase of ['import', 'raw', 'rerun', 'resume', 'naive', 'verify', 'smallImport', 'smallRerun', 'status']) expect(medians[phase], phase).toBeGreaterThan(0);
      const saved = JSON.parse(await readFile(out, 'utf8')) as { samples: { importMs: number[]; verifyMs: number[] } };
      expect(saved.samples.importMs).toHaveLength(1);
      expect(saved.samples.verifyMs).toHaveLength(1);
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }, 180_000);
});
