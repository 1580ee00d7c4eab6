/**
 * Temporary filesystem-provider source trees built from inline objects and strings, plus small
 * builders for the four file shapes (camelCase, as the provider writes them).
 *
 *   const tree = await makeSourceTree({ 'state/runs/r1.json': runState({ runId: 'r1' }) });
 *   try { ... tree.root ... } finally { await tree.remove(); }
 *
 * A string or Buffer is written byte for byte (BOMs, CRLF, missing final newlines stay); any other
 * value is written as pretty JSON. Trees live under os.tmpdir(), never inside the repository.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** File content: bytes as given (string, Buffer) or a JSON value serialized with 2-space indent. */
export type FileContent = string | Buffer | Record<string, unknown> | unknown[];

/** Relative path (`/`-separated) to content. */
export type TreeSpec = Readonly<Record<string, FileContent>>;

export interface SourceTree {
  /** Absolute path of the tree's root: pass it as `source`. */
  root: string;
  /** Absolute path of a file in the tree. */
  path(relativePath: string): string;
  /** Writes (or overwrites) one file, creating folders as needed. */
  write(relativePath: string, content: FileContent): Promise<void>;
  /** Deletes the whole tree. Idempotent. */
  remove(): Promise<void>;
}

export function serialize(content: FileContent): string | Buffer {
  if (typeof content === 'string' || Buffer.isBuffer(content)) return content;
  return `${JSON.stringify(content, null, 2)}\n`;
}

export async function makeSourceTree(spec: TreeSpec, prefix = 'backfill-tree-'): Promise<SourceTree> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const resolve = (relativePath: string): string => {
    const absolute = path.resolve(root, relativePath);
    if (!absolute.startsWith(root + path.sep)) throw new Error(`${relativePath} is outside the tree`);
    return absolute;
  };
  const tree: SourceTree = {
    root,
    path: resolve,
    async write(relativePath, content) {
      const absolute = resolve(relativePath);
      await mkdir(path.dirname(absolute), { recursive: true });
      await writeFile(absolute, serialize(content));
    },
    async remove() {
      await rm(root, { recursive: true, force: true });
    },
  };
  for (const [relativePath, content] of Object.entries(spec)) await tree.write(relativePath, content);
  return tree;
}

/** Every regular file under `root` (relative `/`-separated path) with the SHA-256 of its bytes, sorted. */
export async function hashTree(root: string): Promise<Array<[string, string]>> {
  const result: Array<[string, string]> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const absolute = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(absolute);
      else if (entry.isFile()) {
        const digest = createHash('sha256').update(await readFile(absolute)).digest('hex');
        result.push([path.relative(root, absolute).split(path.sep).join('/'), digest]);
      } else result.push([path.relative(root, absolute).split(path.sep).join('/'), `(${entry.isSymbolicLink() ? 'link' : 'other'})`]);
    }
  };
  await walk(root);
  return result.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Builders: a valid record of each shape; overrides replace top-level fields (undefined deletes).
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function withOverrides(base: Json, overrides: Json): Json {
  const result: Json = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete result[key];
    else result[key] = value;
  }
  return result;
}

export function step(overrides: Json = {}): Json {
  return withOverrides(
    {
      stepId: 'build',
      kind: 'Run',
      enabled: true,
      continueOnError: false,
      maxParallel: null,
      approvalId: null,
      gateMessage: null,
      status: 'Succeeded',
      attempts: 1,
      lastTransitionAt: '2025-11-06T09:01:00.5+00:00',
      nextAttemptAt: null,
      statusReason: null,
    },
    overrides,
  );
}

export function runState(overrides: Json = {}): Json {
  return withOverrides(
    {
      runId: 'run-1',
      planHash: 'sha256:00',
      plan: { version: '1', steps: [{ id: 'build', type: 'run' }], computedAt: '2025-11-06T08:59:59.9999999+00:00' },
      failurePolicy: { maxAttempts: 2, backoffSeconds: 30, continueOnError: false },
      requestedAt: '2025-11-06T09:00:00+00:00',
      createdAt: '2025-11-06T09:00:00.1234567+00:00',
      updatedAt: '2025-11-06T09:04:10.5+00:00',
      tenantId: null,
      steps: [step()],
    },
    overrides,
  );
}

export function logLine(overrides: Json = {}): Json {
  return withOverrides(
    {
      timestamp: '2025-11-06T09:03:05+00:00',
      level: 'info',
      eventType: 'step.started',
      message: 'Step build started.',
      stepId: 'build',
      metadata: { attempt: '1' },
    },
    overrides,
  );
}

/** NDJSON text of the given lines (objects are compacted, strings kept), each ending in `\n`. */
export function ndjson(lines: ReadonlyArray<Json | string>): string {
  return lines.map((line) => `${typeof line === 'string' ? line : JSON.stringify(line)}\n`).join('');
}

export function approval(overrides: Json = {}): Json {
  return withOverrides(
    {
      approvalId: 'security-review',
      requiredGrants: ['packs.approve'],
      stepIds: ['approve'],
      messages: ['Security must approve'],
      reasonTemplate: 'Approve deploy of {{inputs.image}}',
      requestedAt: '2025-11-06T09:00:00.2+00:00',
      status: 'Approved',
      actorId: 'user:alice',
      completedAt: '2025-11-06T09:02:58+00:00',
      summary: 'LGTM',
    },
    overrides,
  );
}

export function artifactOutput(overrides: Json = {}): Json {
  return withOverrides(
    {
      name: 'report',
      type: 'file',
      sourcePath: 'out/report.json',
      storedPath: 'run-1/files/report.json',
      status: 'copied',
      notes: null,
    },
    overrides,
  );
}

export function manifest(overrides: Json = {}): Json {
  return withOverrides(
    { runId: 'run-1', uploadedAt: '2025-11-06T09:10:00+00:00', outputs: [artifactOutput()] },
    overrides,
  );
}

/**
 * A small clean tree for one run in the default layout: a state file, a 2-line log, one approval
 * and one artifact. An import of it has no rejections.
 */
export function cleanTreeSpec(runId = 'run-1'): Record<string, FileContent> {
  return {
    [`state/runs/${runId}.json`]: runState({
      runId,
      steps: [
        step({ stepId: 'approve', kind: 'GateApproval', approvalId: 'security-review' }),
        step({ stepId: 'build' }),
      ],
    }),
    [`logs/runs/${runId}.ndjson`]: ndjson([
      logLine({ eventType: 'run.created', message: 'Run created.', stepId: null, metadata: { queueDepth: 3 } }),
      logLine(),
    ]),
    [`state/approvals/${runId}.json`]: [approval()],
    [`artifacts/${runId}/artifact-manifest.json`]: manifest({ runId }),
  };
}
