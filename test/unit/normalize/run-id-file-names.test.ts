import { describe, expect, it } from 'vitest';
import { RunIdIndex, runIdToFileStem } from '../../../src/normalize/run-id-file-names.js';

describe('runIdToFileStem', () => {
  it('replaces every character not allowed in a file name with "_"', () => {
    expect(runIdToFileStem('tenant-a:nightly/42')).toBe('tenant-a_nightly_42');
    expect(runIdToFileStem('a/b\\c:d*e?f"g<h>i|j')).toBe('a_b_c_d_e_f_g_h_i_j');
    expect(runIdToFileStem('tab\there\u0000nul\u001fus\nnl')).toBe('tab_here_nul_us_nl');
  });

  it('keeps every other character', () => {
    for (const runId of ['run-7f3c', 'deploy-2025-11-05-0017', 'a.b', 'with space', 'ünïcødé', 'a_b', '']) {
      expect(runIdToFileStem(runId)).toBe(runId);
    }
  });
});

describe('RunIdIndex', () => {
  it('resolves a file stem to the one run that maps to it', () => {
    const index = new RunIdIndex();
    index.add('tenant-a:nightly/42');
    index.add('run-7f3c');
    index.add('run-7f3c'); // the same run seen twice is still one run
    expect(index.resolve('tenant-a_nightly_42')).toEqual({ kind: 'run', runId: 'tenant-a:nightly/42' });
    expect(index.resolve('run-7f3c')).toEqual({ kind: 'run', runId: 'run-7f3c' });
  });

  it('treats a stem no run maps to as an orphan under the file-name runId', () => {
    const index = new RunIdIndex();
    index.add('run-7f3c');
    expect(index.resolve('run-e41d')).toEqual({ kind: 'orphan', runId: 'run-e41d' });
    // Matching is on the sanitized runId, not the raw one.
    index.add('a:b');
    expect(index.resolve('a:b')).toEqual({ kind: 'orphan', runId: 'a:b' });
  });

  it('reports a stem two runIds map to as ambiguous, listing them sorted', () => {
    const index = new RunIdIndex();
    index.add('ci:a');
    index.add('ci/a');
    expect(index.resolve('ci_a')).toEqual({ kind: 'ambiguous', runIds: ['ci/a', 'ci:a'] });
  });
});
