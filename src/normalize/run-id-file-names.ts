/**
 * The filesystem provider names log and approval files after the runId with every character that
 * is not allowed in a file name replaced by `_`. Matching a file to its run applies the same
 * replacement to each known runId.
 */
// eslint-disable-next-line no-control-regex
const NOT_ALLOWED_IN_FILE_NAMES = /[/\\:*?"<>|\u0000-\u001f]/g;

export function runIdToFileStem(runId: string): string {
  return runId.replace(NOT_ALLOWED_IN_FILE_NAMES, '_');
}

/** What a file stem (name without extension) resolves to. */
export type StemResolution =
  | { kind: 'run'; runId: string }
  | { kind: 'orphan'; runId: string }
  | { kind: 'ambiguous'; runIds: string[] };

/** Index from file stem to the runIds of the state files that map to it. */
export class RunIdIndex {
  private readonly byStem = new Map<string, Set<string>>();

  add(runId: string): void {
    const stem = runIdToFileStem(runId);
    let runIds = this.byStem.get(stem);
    if (!runIds) this.byStem.set(stem, (runIds = new Set()));
    runIds.add(runId);
  }

  resolve(stem: string): StemResolution {
    const runIds = this.byStem.get(stem);
    if (!runIds || runIds.size === 0) return { kind: 'orphan', runId: stem };
    if (runIds.size > 1) return { kind: 'ambiguous', runIds: [...runIds].sort() };
    return { kind: 'run', runId: [...runIds][0] as string };
  }
}
