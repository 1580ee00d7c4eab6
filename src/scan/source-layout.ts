import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import fg from 'fast-glob';
import { COLLECTION_ROLES } from '../domain/collection-roles.js';
import type { SourceGlobs } from './find-source-files.js';

/** How far up and down from --source the likely root is looked for. */
const ANCESTORS_CHECKED = 3;
const CHILDREN_CHECKED = 50;

/** Why a --source holds no run state file, and where the tree's root probably is. */
export interface MissingLayout {
  source: string;
  /** The run state glob that matched nothing. */
  runsGlob: string;
  /** Where the likely root is, when a check found run state files there. */
  likelyRoot?: string;
  /** Which folder of the layout --source looks like (`logs/`), when its name says so. */
  looksLike?: string;
}

/** Whether the run state glob matches at least one path under `root` (stops at the first). */
export async function hasRunStateFile(root: string, globs: Pick<SourceGlobs, 'runs'>): Promise<boolean> {
  const stream = fg.stream(globs.runs, { cwd: root, dot: true, onlyFiles: false, followSymbolicLinks: false, suppressErrors: true }) as Readable;
  try {
    for await (const _entry of stream) return true;
    return false;
  } finally {
    stream.destroy();
  }
}

/**
 * Undefined when --source holds a run state file; otherwise what is wrong and where the root
 * probably is: the nearest folder above (up to 3 levels) or just below --source where the run
 * state glob matches, else, when --source is named like a folder of the layout (`logs`, `state`,
 * `runs`...), the folder above that part.
 */
export async function checkSourceLayout(source: string, globs: SourceGlobs): Promise<MissingLayout | undefined> {
  if (await hasRunStateFile(source, globs)) return undefined;
  const found: MissingLayout = { source, runsGlob: globs.runs };
  const looksLike = layoutFolderOf(source, globs);
  if (looksLike) found.looksLike = looksLike.folder;
  let up = source;
  for (let level = 0; level < ANCESTORS_CHECKED; level++) {
    const parent = path.dirname(up);
    if (parent === up) break;
    up = parent;
    if (await hasRunStateFile(up, globs)) return { ...found, likelyRoot: up };
  }
  for (const child of await childFolders(source)) {
    if (await hasRunStateFile(child, globs)) return { ...found, likelyRoot: child };
  }
  if (looksLike) return { ...found, likelyRoot: looksLike.root };
  return found;
}

/** The one-line explanation: what was looked for, the expected layout, and the likely root. */
export function describeMissingLayout(missing: MissingLayout, globs: SourceGlobs): string {
  const layout = COLLECTION_ROLES.map((role) => globs[role]).join(', ');
  const hint =
    missing.looksLike && missing.likelyRoot
      ? ` --source looks like the tree's ${missing.looksLike} folder: did you mean --source ${missing.likelyRoot}?`
      : missing.likelyRoot
        ? ` Run state files were found under ${missing.likelyRoot}: did you mean --source ${missing.likelyRoot}?`
        : missing.looksLike
          ? ` --source looks like the tree's ${missing.looksLike} folder: point it at the folder that holds state/, logs/ and artifacts/.`
          : '';
  return `no run state file under --source ${missing.source} (nothing matches ${missing.runsGlob}). The provider's layout, relative to --source: ${layout}.${hint}`;
}

/** When the last part(s) of `source` are the leading folders of a glob (`logs`, `logs/runs`, `state`), that folder and the root above it. */
function layoutFolderOf(source: string, globs: SourceGlobs): { folder: string; root: string } | undefined {
  const parts = path.resolve(source).split(path.sep).filter((part) => part.length > 0);
  let best: { folder: string; root: string; depth: number } | undefined;
  for (const role of COLLECTION_ROLES) {
    const fixed = staticPrefix(globs[role]);
    for (let depth = fixed.length; depth >= 1; depth--) {
      const tail = parts.slice(-depth);
      if (tail.length === depth && tail.every((part, i) => part === fixed[i]) && (!best || depth > best.depth)) {
        best = { folder: `${fixed.slice(0, depth).join('/')}/`, root: path.resolve(source, ...Array<string>(depth).fill('..')), depth };
      }
    }
  }
  return best ? { folder: best.folder, root: best.root } : undefined;
}

/** The leading folders of a glob before its first pattern character: `state/runs/*.json` -> [state, runs]. */
function staticPrefix(glob: string): string[] {
  const parts = glob.split('/');
  const fixed: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (/[*?[\]{}()!]/.test(part)) break;
    fixed.push(part);
  }
  return fixed;
}

async function childFolders(source: string): Promise<string[]> {
  try {
    const entries = await readdir(source, { withFileTypes: true });
    return entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
      .slice(0, CHILDREN_CHECKED)
      .map((name) => path.join(source, name));
  } catch {
    return [];
  }
}
