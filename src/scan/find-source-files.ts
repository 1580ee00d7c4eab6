import { stat } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import type { SourceFile } from '../domain/source-file.js';

export type { SourceFile } from '../domain/source-file.js';

/** Glob patterns, relative to the source root, for the four kinds of source file. */
export type SourceGlobs = Readonly<Record<CollectionRole, string>>;

/** The filesystem provider's default layout (layout page, "Default layout"). */
export const DEFAULT_SOURCE_GLOBS: SourceGlobs = Object.freeze({
  runs: 'state/runs/*.json',
  logs: 'logs/runs/*.ndjson',
  approvals: 'state/approvals/*.json',
  artifacts: 'artifacts/*/artifact-manifest.json',
});

export interface SourceInventory {
  files: Record<CollectionRole, SourceFile[]>;
  /** Regular files under the root that no glob matched (queue/, archive/, temp files...). */
  ignoredFiles: number;
}

/** `stat` calls in flight at once while listing: enough to hide a network file system's latency, few enough for its server. */
export const STAT_CONCURRENCY = 64;

/**
 * Lists the source files. Symbolic links are not followed while walking (a link loop cannot trap
 * the scan), but a matched path that is a link to a file is read through it. Paths are sorted so
 * every run sees the same order. The globs walk at once, and the matched files are described
 * (`stat`) `STAT_CONCURRENCY` at a time: on a re-run that skips everything, listing 50,000 files
 * is most of the client's work.
 */
export async function findSourceFiles(root: string, globs: SourceGlobs): Promise<SourceInventory> {
  const roles = COLLECTION_ROLES;
  const walkOptions = {
    cwd: root,
    // A runId may start with "." (".hidden" -> .hidden.json): such files are data, not hidden.
    dot: true,
    followSymbolicLinks: false,
    suppressErrors: true,
  } as const;
  const [everything, ...matches] = await Promise.all([
    fg('**/*', { ...walkOptions, onlyFiles: true }),
    ...roles.map((role) => fg(globs[role], { ...walkOptions, onlyFiles: false, unique: true })),
  ]);
  const matched = new Set<string>();
  const found: Array<{ role: CollectionRole; relativePath: string }> = [];
  roles.forEach((role, index) => {
    const paths = matches[index] ?? [];
    paths.sort();
    for (const relativePath of paths) {
      if (matched.has(relativePath)) continue; // two globs matching one file: the first role keeps it
      matched.add(relativePath);
      found.push({ role, relativePath });
    }
  });
  const described = await mapConcurrently(found, STAT_CONCURRENCY, ({ role, relativePath }) => describeFile(root, relativePath, role));
  const files = { runs: [], logs: [], approvals: [], artifacts: [] } as Record<CollectionRole, SourceFile[]>;
  for (const file of described) files[file.role].push(file);
  let ignoredFiles = 0;
  for (const relativePath of everything ?? []) if (!matched.has(relativePath)) ignoredFiles += 1;
  return { files, ignoredFiles };
}

/** `fn` over `items`, at most `limit` at a time; the results in the items' order. */
export async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function describeFile(root: string, relativePath: string, role: CollectionRole): Promise<SourceFile> {
  const absolutePath = path.join(root, relativePath);
  try {
    const stats = await stat(absolutePath);
    if (!stats.isFile()) {
      return { role, relativePath, absolutePath, size: 0, mtimeMs: stats.mtimeMs, unreadable: 'is not a regular file (a directory or device)' };
    }
    return { role, relativePath, absolutePath, size: stats.size, mtimeMs: stats.mtimeMs };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'is a broken symbolic link' : code === 'ELOOP' ? 'is a symbolic link loop' : `cannot be read (${code ?? String(error)})`;
    return { role, relativePath, absolutePath, size: 0, mtimeMs: 0, unreadable: why };
  }
}

/** File name without directory and extension: the provider's sanitized runId. */
export function fileStem(relativePath: string): string {
  return path.posix.basename(relativePath).replace(/\.[^.]*$/, '');
}

/** Name of the folder that holds the file (artifact manifests live in `artifacts/<runId>/`). */
export function parentFolderName(relativePath: string): string {
  return path.posix.basename(path.posix.dirname(relativePath));
}
