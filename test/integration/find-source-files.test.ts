/**
 * The source scan walks its globs at once and describes files (`stat`) many at a time: it must
 * list exactly what the one-at-a-time scan listed, in the same order, hostile entries included.
 */
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fg from 'fast-glob';
import { afterAll, describe, expect, it } from 'vitest';
import type { CollectionRole } from '../../src/domain/collection-roles.js';
import type { SourceFile } from '../../src/domain/source-file.js';
import { DEFAULT_SOURCE_GLOBS, findSourceFiles, mapConcurrently, type SourceGlobs, type SourceInventory } from '../../src/scan/find-source-files.js';
import { makeSyntheticTree } from '../helpers/synthetic-tree.js';

/** The scan as it was: one glob after the other, one `stat` after the other. */
async function sequentialScan(root: string, globs: SourceGlobs): Promise<SourceInventory> {
  const files = { runs: [], logs: [], approvals: [], artifacts: [] } as Record<CollectionRole, SourceFile[]>;
  const matched = new Set<string>();
  for (const role of Object.keys(files) as CollectionRole[]) {
    const paths = await fg(globs[role], { cwd: root, dot: true, onlyFiles: false, followSymbolicLinks: false, suppressErrors: true, unique: true });
    paths.sort();
    for (const relativePath of paths) {
      if (matched.has(relativePath)) continue;
      matched.add(relativePath);
      const absolutePath = path.join(root, relativePath);
      try {
        const stats = await stat(absolutePath);
        files[role].push(
          stats.isFile()
            ? { role, relativePath, absolutePath, size: stats.size, mtimeMs: stats.mtimeMs }
            : { role, relativePath, absolutePath, size: 0, mtimeMs: stats.mtimeMs, unreadable: 'is not a regular file (a directory or device)' },
        );
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'is a broken symbolic link' : code === 'ELOOP' ? 'is a symbolic link loop' : `cannot be read (${code ?? String(error)})`;
        files[role].push({ role, relativePath, absolutePath, size: 0, mtimeMs: 0, unreadable: why });
      }
    }
  }
  const everything = await fg('**/*', { cwd: root, dot: true, onlyFiles: true, followSymbolicLinks: false, suppressErrors: true });
  return { files, ignoredFiles: everything.filter((relativePath) => !matched.has(relativePath)).length };
}

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

describe('findSourceFiles', () => {
  it('lists what the sequential scan listed, in the same order, on a tree with hostile entries', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'backfill-scan-'));
    roots.push(root);
    const put = async (relativePath: string, content = '{}'): Promise<void> => {
      await mkdir(path.dirname(path.join(root, relativePath)), { recursive: true });
      await writeFile(path.join(root, relativePath), content);
    };
    for (let i = 0; i < 150; i++) {
      const id = `run-${String((i * 7919) % 1000).padStart(3, '0')}`;
      await put(`state/runs/${id}.json`, 'x'.repeat(i));
      await put(`logs/runs/${id}.ndjson`, 'y'.repeat(i * 3));
      if (i % 3 === 0) await put(`state/approvals/${id}.json`);
      if (i % 4 === 0) await put(`artifacts/${id}/artifact-manifest.json`);
    }
    await put('state/runs/.hidden.json');
    await put('state/runs/Ünïcödé ✓.json');
    await put('queue/ignored.json');
    await put('archive/old.tar');
    await put('logs/runs/notes.txt');
    await mkdir(path.join(root, 'state/runs/a-directory.json'));
    await symlink(path.join(root, 'state/runs/does-not-exist.json'), path.join(root, 'state/runs/broken.json'));
    await symlink(path.join(root, 'state/runs/run-000.json'), path.join(root, 'state/runs/linked.json'));
    await symlink('.', path.join(root, 'loop'));
    // A glob that also matches what another role's glob matched: the first role keeps it.
    const globs: SourceGlobs = { ...DEFAULT_SOURCE_GLOBS, approvals: 'state/{approvals,runs}/*.json' };
    for (const g of [DEFAULT_SOURCE_GLOBS, globs]) {
      const concurrent = await findSourceFiles(root, g);
      expect(concurrent).toEqual(await sequentialScan(root, g));
      expect(concurrent.files.runs.map((file) => file.relativePath)).toEqual([...concurrent.files.runs.map((file) => file.relativePath)].sort());
    }
    const inventory = await findSourceFiles(root, DEFAULT_SOURCE_GLOBS);
    expect(inventory.files.runs.find((file) => file.relativePath.endsWith('broken.json'))?.unreadable).toBe('is a broken symbolic link');
    expect(inventory.files.runs.find((file) => file.relativePath.endsWith('a-directory.json'))?.unreadable).toContain('not a regular file');
    // A link to a file is read through it.
    const target = inventory.files.runs.find((file) => file.relativePath.startsWith('state/runs/run-') && file.size > 0) as SourceFile;
    await symlink(target.absolutePath, path.join(root, 'state/runs/linked-too.json'));
    const relisted = await findSourceFiles(root, DEFAULT_SOURCE_GLOBS);
    expect(relisted.files.runs.find((file) => file.relativePath === 'state/runs/linked-too.json')).toMatchObject({ size: target.size, mtimeMs: target.mtimeMs });
    expect(inventory.ignoredFiles).toBe(3);
  });

  it('lists a synthetic tree as the sequential scan did', async () => {
    const tree = await makeSyntheticTree({ runs: 400, linesPerRun: 1 });
    roots.push(tree.root);
    expect(await findSourceFiles(tree.root, DEFAULT_SOURCE_GLOBS)).toEqual(await sequentialScan(tree.root, DEFAULT_SOURCE_GLOBS));
  });
});

describe('mapConcurrently', () => {
  it('keeps the order of the items whatever order their work ends in, and never runs more than the limit', async () => {
    let running = 0;
    let most = 0;
    const items = Array.from({ length: 200 }, (_, i) => i);
    const results = await mapConcurrently(items, 7, async (i) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, (i * 37) % 5));
      running -= 1;
      return i * 2;
    });
    expect(results).toEqual(items.map((i) => i * 2));
    expect(most).toBe(7);
    expect(await mapConcurrently([], 7, async () => 1)).toEqual([]);
  });
});
