import { stat } from 'node:fs/promises';
import path from 'node:path';
import fg from 'fast-glob';
import type { CollectionRole } from '../domain/collection-roles.js';
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

/**
 * Lists the source files. Symbolic links are not followed while walking (a link loop cannot trap
 * the scan), but a matched path that is a link to a file is read through it. Paths are sorted so
 * every run sees the same order.
 */
export async function findSourceFiles(root: string, globs: SourceGlobs): Promise<SourceInventory> {
  const files = { runs: [], logs: [], approvals: [], artifacts: [] } as Record<CollectionRole, SourceFile[]>;
  const matched = new Set<string>();
  for (const role of Object.keys(files) as CollectionRole[]) {
    const paths = await fg(globs[role], {
      cwd: root,
      // A runId may start with "." (".hidden" -> .hidden.json): such files are data, not hidden.
      dot: true,
      onlyFiles: false,
      followSymbolicLinks: false,
      suppressErrors: true,
      unique: true,
    });
    paths.sort();
    for (const relativePath of paths) {
      if (matched.has(relativePath)) continue; // two globs matching one file: the first role keeps it
      matched.add(relativePath);
      files[role].push(await describeFile(root, relativePath, role));
    }
  }
  const everything = await fg('**/*', {
    cwd: root,
    dot: true,
    onlyFiles: true,
    followSymbolicLinks: false,
    suppressErrors: true,
  });
  const ignoredFiles = everything.filter((relativePath) => !matched.has(relativePath)).length;
  return { files, ignoredFiles };
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
