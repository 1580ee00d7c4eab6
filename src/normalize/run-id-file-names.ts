/**
 * The filesystem provider names log and approval files after the runId with every character that
 * is not allowed in a file name replaced by `_`. Matching a file to its run applies the same
 * replacement to each known runId.
 */
const NOT_ALLOWED_IN_FILE_NAMES = /[/\\:*?"<>|\u0000-\u001f]/g;

export function runIdToFileStem(runId: string): string {
  return runId.replace(NOT_ALLOWED_IN_FILE_NAMES, '_');
}

/**
 * What a file stem (name without extension) resolves to. `normalizedFrom` is set when the stem
 * matched the run only after Unicode NFC normalization (a file copied through macOS, which writes
 * names in NFD): the file is attributed to the run, and the report says so.
 */
export type StemResolution =
  | { kind: 'run'; runId: string; normalizedFrom?: 'NFD' | 'other' }
  | { kind: 'orphan'; runId: string }
  | { kind: 'ambiguous'; runIds: string[] };

/** Index from file stem to the runIds of the state files that map to it. */
export class RunIdIndex {
  private readonly byStem = new Map<string, Set<string>>();
  /** The same, keyed by the NFC form of the stem: the fallback for names in another normal form. */
  private readonly byNfcStem = new Map<string, Set<string>>();

  add(runId: string): void {
    const stem = runIdToFileStem(runId);
    addTo(this.byStem, stem, runId);
    addTo(this.byNfcStem, stem.normalize('NFC'), runId);
  }

  /**
   * The exact stem first; only when no run has exactly this stem, the runs whose stem is the same
   * text in Unicode NFC (two runIds that differ only in normal form make such a name ambiguous).
   */
  resolve(stem: string): StemResolution {
    const exact = this.byStem.get(stem);
    if (exact && exact.size > 0) return single(exact);
    const normalized = this.byNfcStem.get(stem.normalize('NFC'));
    if (!normalized || normalized.size === 0) return { kind: 'orphan', runId: stem };
    const resolution = single(normalized);
    if (resolution.kind !== 'run') return resolution;
    return { ...resolution, normalizedFrom: stem === stem.normalize('NFD') ? 'NFD' : 'other' };
  }
}

function addTo(index: Map<string, Set<string>>, key: string, runId: string): void {
  let runIds = index.get(key);
  if (!runIds) index.set(key, (runIds = new Set()));
  runIds.add(runId);
}

function single(runIds: ReadonlySet<string>): StemResolution {
  if (runIds.size > 1) return { kind: 'ambiguous', runIds: [...runIds].sort() };
  return { kind: 'run', runId: [...runIds][0] as string };
}
