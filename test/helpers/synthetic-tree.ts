/**
 * A deterministic, valid filesystem-provider tree of any size, for resume and restart tests:
 * `runs` runs, each with a state file, an approvals file (2 approvals), an artifact manifest
 * (3 outputs) and a log of `linesPerRun` NDJSON lines. The same options always give the same
 * bytes, so two trees (or one tree and a later re-run) import to the same documents.
 *
 *   const tree = await makeSyntheticTree({ runs: 40, linesPerRun: 100 });
 *   try { ... tree.root ..., tree.expected.logs ... } finally { await tree.remove(); }
 *
 * Trees live under os.tmpdir(), never inside the repository.
 */
import { appendFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CollectionRole } from '../../src/domain/collection-roles.js';
import { approval, artifactOutput, logLine, manifest, ndjson, runState, step } from './source-tree.js';

export interface SyntheticTreeOptions {
  runs: number;
  linesPerRun: number;
}

export interface SyntheticTree {
  root: string;
  options: SyntheticTreeOptions;
  /** Records a clean import of the tree writes, per collection (grows with `appendLogLines`). */
  expected: Record<CollectionRole, number>;
  /** runId of the i-th run (0-based). */
  runId(index: number): string;
  /** Path of the i-th run's log, relative to the root. */
  logPath(index: number): string;
  /** Appends `count` new lines (the continuation of the same deterministic sequence) to the i-th log. */
  appendLogLines(index: number, count: number): Promise<void>;
  /** Current number of lines in the i-th log. */
  lineCount(index: number): number;
  remove(): Promise<void>;
}

export const APPROVALS_PER_RUN = 2;
export const ARTIFACTS_PER_RUN = 3;

const BASE_TIME = Date.UTC(2025, 10, 6, 9, 0, 0);
const LEVELS = ['info', 'debug', 'warn', 'error', 'trace'] as const;
const STEPS = ['checkout', 'build', 'test', 'approve', 'deploy'] as const;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

function runIdOf(index: number): string {
  return `synthetic-run-${String(index).padStart(4, '0')}`;
}

/** Line `lineNumber` (1-based) of run `index`: a pure function of both. */
export function syntheticLogLine(index: number, lineNumber: number): Record<string, unknown> {
  const stepId = STEPS[lineNumber % STEPS.length] as string;
  return logLine({
    timestamp: iso(BASE_TIME + index * 3_600_000 + lineNumber * 1_000 + (lineNumber % 7)),
    level: LEVELS[(index + lineNumber) % LEVELS.length],
    eventType: lineNumber === 1 ? 'run.created' : `step.${lineNumber % 3 === 0 ? 'completed' : 'progress'}`,
    message: `Run ${index} line ${lineNumber}: step ${stepId} reports ${(index * 31 + lineNumber * 17) % 1000} units.`,
    stepId: lineNumber === 1 ? null : stepId,
    metadata: { attempt: String(1 + (lineNumber % 3)), line: String(lineNumber), shard: `s${index % 5}` },
  });
}

function runFiles(index: number, lines: number): Record<string, string> {
  const runId = runIdOf(index);
  const start = BASE_TIME + index * 3_600_000;
  const state = runState({
    runId,
    planHash: `sha256:${(index * 2654435761 >>> 0).toString(16).padStart(8, '0')}`,
    plan: { version: '1', steps: STEPS.map((id) => ({ id, type: id === 'approve' ? 'gate' : 'run' })), computedAt: iso(start - 500) },
    requestedAt: iso(start),
    createdAt: iso(start + 100),
    updatedAt: iso(start + 1_800_000),
    tenantId: index % 4 === 0 ? `tenant-${index % 3}` : null,
    steps: STEPS.map((stepId, position) =>
      step({
        stepId,
        kind: stepId === 'approve' ? 'GateApproval' : 'Run',
        approvalId: stepId === 'approve' ? 'security-review' : null,
        status: position < 4 || index % 2 === 0 ? 'Succeeded' : 'Running',
        attempts: 1 + ((index + position) % 2),
        lastTransitionAt: iso(start + 60_000 * (position + 1)),
      }),
    ),
  });
  const approvals = [
    approval({ approvalId: 'security-review', requestedAt: iso(start + 200), completedAt: iso(start + 90_000), summary: `ok ${index}` }),
    approval({
      approvalId: 'release-manager',
      requiredGrants: ['packs.release'],
      stepIds: ['deploy'],
      requestedAt: iso(start + 300),
      status: index % 3 === 0 ? 'Pending' : 'Approved',
      actorId: index % 3 === 0 ? null : `user:rm-${index % 4}`,
      completedAt: index % 3 === 0 ? null : iso(start + 120_000),
      summary: null,
    }),
  ];
  const outputs = ['report', 'coverage', 'bundle'].map((name, position) =>
    artifactOutput({
      name,
      type: position === 2 ? 'directory' : 'file',
      sourcePath: `out/${name}.json`,
      storedPath: `${runId}/files/${name}.json`,
      status: position === 1 && index % 5 === 0 ? 'skipped' : 'copied',
    }),
  );
  const logLines = Array.from({ length: lines }, (_, i) => syntheticLogLine(index, i + 1));
  return {
    [`state/runs/${runId}.json`]: `${JSON.stringify(state, null, 2)}\n`,
    [`state/approvals/${runId}.json`]: `${JSON.stringify(approvals, null, 2)}\n`,
    [`artifacts/${runId}/artifact-manifest.json`]: `${JSON.stringify(manifest({ runId, uploadedAt: iso(start + 1_900_000), outputs }), null, 2)}\n`,
    [`logs/runs/${runId}.ndjson`]: ndjson(logLines),
  };
}

export async function makeSyntheticTree(options: SyntheticTreeOptions, prefix = 'backfill-synthetic-'): Promise<SyntheticTree> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const lines = Array.from({ length: options.runs }, () => options.linesPerRun);
  for (let index = 0; index < options.runs; index++) {
    for (const [relativePath, content] of Object.entries(runFiles(index, options.linesPerRun))) {
      const absolute = path.join(root, relativePath);
      await mkdir(path.dirname(absolute), { recursive: true });
      await writeFile(absolute, content);
    }
  }
  const expected: Record<CollectionRole, number> = {
    runs: options.runs,
    logs: options.runs * options.linesPerRun,
    approvals: options.runs * APPROVALS_PER_RUN,
    artifacts: options.runs * ARTIFACTS_PER_RUN,
  };
  const logPath = (index: number): string => `logs/runs/${runIdOf(index)}.ndjson`;
  return {
    root,
    options,
    expected,
    runId: runIdOf,
    logPath,
    lineCount: (index) => lines[index] ?? 0,
    async appendLogLines(index, count) {
      const from = (lines[index] ?? 0) + 1;
      const added = Array.from({ length: count }, (_, i) => syntheticLogLine(index, from + i));
      const absolute = path.join(root, logPath(index));
      const before = await stat(absolute);
      await appendFile(absolute, ndjson(added));
      lines[index] = from + count - 1;
      expected.logs += count;
      // Some filesystems keep a coarse mtime; the size alone already differs, but be explicit.
      const after = await stat(absolute);
      if (after.size <= before.size) throw new Error(`append to ${logPath(index)} did not grow it`);
    },
    async remove() {
      await rm(root, { recursive: true, force: true });
    },
  };
}
