import type { Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where the source really is, for the "never write into the source" check of output files: the
 * real path of `--source` (given through a symbolic link or not) and the real paths of every
 * symbolic link inside the tree (the scanner reads a matched link's target, and a linked folder on
 * a glob's path is read through), each also by device and inode so a bind mount or another path
 * to the same folder is recognised too.
 */
export interface SourceAreas {
  /** Real paths of folders whose contents are (or may be read as) source. */
  folders: Array<{ path: string; id: string; via: string }>;
  /** Real paths of files outside those folders that a link in the source points at. */
  files: Array<{ path: string; id: string; via: string }>;
}

export async function sourceAreas(source: string): Promise<SourceAreas> {
  const root = await realpath(source);
  const areas: SourceAreas = { folders: [{ path: root, id: fileId(await stat(root)), via: source }], files: [] };
  // Breadth-first over the real tree, a level at a time, never through a link: a link is recorded,
  // not followed, so a link loop or a link to "/" cannot make this walk the machine.
  const links: string[] = [];
  for (let level = [root]; level.length > 0; ) {
    const next: string[] = [];
    await Promise.all(
      level.map(async (folder) => {
        // An unreadable folder is reported by the scan itself.
        const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
        for (const entry of entries) {
          const absolute = path.join(folder, entry.name);
          if (entry.isDirectory()) next.push(absolute);
          else if (entry.isSymbolicLink()) links.push(absolute);
        }
      }),
    );
    level = next;
  }
  for (const link of links) await addLinkTarget(areas, link);
  return areas;
}

async function addLinkTarget(areas: SourceAreas, link: string): Promise<void> {
  try {
    const target = await realpath(link);
    const stats = await stat(target);
    (stats.isDirectory() ? areas.folders : areas.files).push({ path: target, id: fileId(stats), via: link });
  } catch {
    // a broken link points nowhere yet; the output check refuses a target that is itself a link
  }
}

export function fileId(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

/**
 * The source area that holds `realFile` (the real path of an output file, whose parent folder has
 * been resolved), if any: by path, then by the device and inode of each of its ancestors.
 */
export async function sourceAreaHolding(areas: SourceAreas, realFile: string, existing: Stats | undefined): Promise<string | undefined> {
  for (const folder of areas.folders) {
    if (isWithin(realFile, folder.path)) return folder.via;
  }
  for (const file of areas.files) {
    if (realFile === file.path || (existing && fileId(existing) === file.id)) return file.via;
  }
  const folderIds = new Map(areas.folders.map((folder) => [folder.id, folder.via]));
  for (let ancestor = path.dirname(realFile); ; ancestor = path.dirname(ancestor)) {
    try {
      const via = folderIds.get(fileId(await stat(ancestor)));
      if (via !== undefined) return via;
    } catch {
      // checked by path above
    }
    if (path.dirname(ancestor) === ancestor) return undefined;
  }
}

function isWithin(candidate: string, folder: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}
