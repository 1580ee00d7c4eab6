/**
 * A --source with no run state file (the wrong folder), on real temporary trees: what is said, and
 * which root is suggested.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SOURCE_GLOBS } from '../../src/scan/find-source-files.js';
import { checkSourceLayout, describeMissingLayout, hasRunStateFile } from '../../src/scan/source-layout.js';
import { cleanTreeSpec, makeSourceTree, type SourceTree } from '../helpers/source-tree.js';

let tree: SourceTree;
let root: string;
let outside: SourceTree;

beforeAll(async () => {
  // The provider's tree one level below the temp folder: <tmp>/taskrunner/{state,logs,artifacts}.
  const spec = Object.fromEntries(Object.entries(cleanTreeSpec()).map(([relative, content]) => [`taskrunner/${relative}`, content]));
  tree = await makeSourceTree(spec, 'layout-tree-');
  root = tree.path('taskrunner');
  outside = await makeSourceTree({ 'notes.txt': 'nothing here' }, 'layout-other-');
});

afterAll(async () => {
  await tree?.remove();
  await outside?.remove();
});

describe('checkSourceLayout', () => {
  it('says nothing when --source holds a run state file', async () => {
    expect(await hasRunStateFile(root, DEFAULT_SOURCE_GLOBS)).toBe(true);
    expect(await checkSourceLayout(root, DEFAULT_SOURCE_GLOBS)).toBeUndefined();
  });

  it.each([
    ['logs', 'logs/'],
    ['logs/runs', 'logs/runs/'],
    ['state', 'state/'],
    ['state/runs', 'state/runs/'],
    ['state/approvals', 'state/approvals/'],
    ['artifacts', 'artifacts/'],
  ])('--source <root>/%s: names the folder it looks like and the root', async (sub, folder) => {
    const missing = await checkSourceLayout(path.join(root, sub), DEFAULT_SOURCE_GLOBS);
    expect(missing).toMatchObject({ looksLike: folder, likelyRoot: root });
    const message = describeMissingLayout(missing!, DEFAULT_SOURCE_GLOBS);
    expect(message).toContain(`no run state file under --source ${path.join(root, sub)} (nothing matches state/runs/*.json)`);
    expect(message).toContain("The provider's layout, relative to --source: state/runs/*.json, logs/runs/*.ndjson, state/approvals/*.json, artifacts/*/artifact-manifest.json.");
    expect(message).toContain(`did you mean --source ${root}?`);
  });

  it('--source one level above the root: the root is found below', async () => {
    const missing = await checkSourceLayout(tree.root, DEFAULT_SOURCE_GLOBS);
    expect(missing).toMatchObject({ likelyRoot: root });
    expect(missing?.looksLike).toBeUndefined();
    expect(describeMissingLayout(missing!, DEFAULT_SOURCE_GLOBS)).toContain(`Run state files were found under ${root}: did you mean --source ${root}?`);
  });

  it('an unrelated folder: the layout, no guess', async () => {
    const missing = await checkSourceLayout(outside.root, DEFAULT_SOURCE_GLOBS);
    expect(missing).toEqual({ source: outside.root, runsGlob: 'state/runs/*.json' });
    expect(describeMissingLayout(missing!, DEFAULT_SOURCE_GLOBS)).not.toContain('did you mean');
  });

  it('follows a custom run state glob', async () => {
    const globs = { ...DEFAULT_SOURCE_GLOBS, runs: 'runstate/*.json' };
    const missing = await checkSourceLayout(root, globs);
    expect(missing).toMatchObject({ runsGlob: 'runstate/*.json' });
    expect(describeMissingLayout(missing!, globs)).toContain('relative to --source: runstate/*.json, logs/runs/*.ndjson');
  });
});
