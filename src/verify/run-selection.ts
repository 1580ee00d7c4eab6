import { runIdToFileStem } from '../normalize/run-id-file-names.js';
import { fileStem } from '../scan/find-source-files.js';
import type { SourceFile } from '../domain/source-file.js';

/**
 * Which runs `verify` compares: all of them, the ones named with `--run`, or a random sample of
 * `--sample N` state files. It is decided before anything is read, from names only, because the
 * reader hands state files over late (in full batches): a run is in scope by its runId (`--run`)
 * or by its file stem, the sanitized runId every file of a run is named after (`--sample`: the
 * stems of N state files drawn at random). Log and approvals files of runs out of scope are
 * skipped unread; state files and artifact manifests name their run inside and are always read.
 */
export class RunSelection {
  private readonly stems: ReadonlySet<string>;

  private constructor(
    readonly kind: 'all' | 'runs' | 'sample',
    private readonly runIds: ReadonlySet<string>,
    sampledStems: ReadonlySet<string>,
    /** The size asked for with --sample. */
    readonly requestedSize = 0,
  ) {
    this.stems = kind === 'runs' ? new Set([...runIds].map(runIdToFileStem)) : sampledStems;
  }

  static all(): RunSelection {
    return new RunSelection('all', new Set(), new Set());
  }

  static runs(runIds: readonly string[]): RunSelection {
    return new RunSelection('runs', new Set(runIds), new Set());
  }

  /** Draws `size` state files at random (a partial Fisher-Yates shuffle); their runs are the sample. */
  static sample(stateFiles: readonly SourceFile[], size: number, random: () => number): RunSelection {
    const paths = stateFiles.map((file) => file.relativePath);
    const count = Math.min(size, paths.length);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(random() * (paths.length - i));
      [paths[i], paths[j]] = [paths[j] as string, paths[i] as string];
    }
    return new RunSelection('sample', new Set(), new Set(paths.slice(0, count).map(fileStem)), size);
  }

  includes(runId: string): boolean {
    if (this.kind === 'all') return true;
    if (this.kind === 'runs') return this.runIds.has(runId);
    return this.stems.has(runIdToFileStem(runId));
  }

  includesAny(runIds: readonly string[]): boolean {
    return runIds.some((runId) => this.includes(runId));
  }

  /** Log and approvals files whose name belongs to no selected run hold nothing to compare. */
  skipFile(file: SourceFile): boolean {
    if (this.kind === 'all' || (file.role !== 'logs' && file.role !== 'approvals')) return false;
    return !this.stems.has(fileStem(file.relativePath));
  }

  /** The runIds named with --run (undefined otherwise). */
  namedRunIds(): string[] | undefined {
    return this.kind === 'runs' ? [...this.runIds] : undefined;
  }
}
