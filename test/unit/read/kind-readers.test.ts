import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CollectionRole } from '../../../src/domain/collection-roles.js';
import { ImportTally } from '../../../src/domain/import-tally.js';
import type { SourceFile } from '../../../src/domain/source-file.js';
import { DEFAULT_SOURCE_GLOBS } from '../../../src/scan/find-source-files.js';
import { RunIdIndex } from '../../../src/normalize/run-id-file-names.js';
import { approvalFiles } from '../../../src/read/kinds/approval-files.js';
import { artifactManifests } from '../../../src/read/kinds/artifact-manifests.js';
import { logFiles } from '../../../src/read/kinds/log-files.js';
import { runFiles } from '../../../src/read/kinds/run-files.js';
import type { KindReaderContext, RecordOutlet } from '../../../src/read/kinds/source-kind-reader.js';
import type { ReadHooks } from '../../../src/read/read-hooks.js';
import { makeSourceTree, runState, type SourceTree } from '../../helpers/source-tree.js';

// The per-file decisions of each kind's reader (src/read/kinds/), which readSourceRecords drives.

const sourceFile = (role: CollectionRole, relativePath: string, root = '/nowhere'): SourceFile => ({
  role,
  relativePath,
  absolutePath: path.join(root, relativePath),
  size: 10,
  mtimeMs: 0,
});

function contextWith(hooks: ReadHooks, source = '/nowhere'): KindReaderContext {
  const tally = new ImportTally();
  return {
    options: { source, globs: DEFAULT_SOURCE_GLOBS, enumStyle: 'camel', batchSize: 100, batchBytes: 1 << 20, maxFileBytes: 1 << 20, maxLineBytes: 1 << 16 },
    normalize: { enumStyle: 'camel', warn: (code, detail) => tally.warn(code, detail) },
    tally,
    hooks,
    runIds: new RunIdIndex(),
  };
}

/** An outlet and the spy of its `add`. */
function outlet(): { out: RecordOutlet; add: ReturnType<typeof vi.fn> } {
  const add = vi.fn(async () => undefined);
  return { out: { add, checkpoint: () => undefined }, add };
}

describe.each([
  ['approvals', approvalFiles, 'state/approvals'],
  ['logs', logFiles, 'logs/runs'],
] as const)('%s files: attributed by their name', (role, reader, folder) => {
  const ext = role === 'logs' ? 'ndjson' : 'json';

  it('leave another partition\u2019s file alone without asking the ledger', () => {
    const skipFile = vi.fn(() => false);
    const kind = reader(contextWith({ skipFile, inPartition: (stem) => stem !== 'theirs' }));
    expect(kind.decide(sourceFile(role, `${folder}/theirs.${ext}`))).toEqual({ action: 'other-partition' });
    expect(skipFile).not.toHaveBeenCalled();
  });

  it('ask the ledger with the run the name resolves to now (null when ambiguous)', () => {
    const skipFile = vi.fn((file: SourceFile) => file.relativePath.includes('done'));
    const context = contextWith({ skipFile });
    context.runIds.add('ci:a');
    context.runIds.add('ci/a');
    context.runIds.add('done');
    const kind = reader(context);
    expect(kind.decide(sourceFile(role, `${folder}/done.${ext}`))).toEqual({ action: 'skip' });
    expect(skipFile).toHaveBeenLastCalledWith(expect.anything(), 'done');
    expect(kind.decide(sourceFile(role, `${folder}/ci_a.${ext}`))).toMatchObject({ action: 'read' });
    expect(skipFile).toHaveBeenLastCalledWith(expect.anything(), null);
    expect(kind.decide(sourceFile(role, `${folder}/orphan.${ext}`))).toMatchObject({ action: 'read' });
    expect(skipFile).toHaveBeenLastCalledWith(expect.anything(), 'orphan');
  });
});

describe('state files', () => {
  let tree: SourceTree;
  beforeAll(async () => {
    tree = await makeSourceTree({ 'state/runs/r1.json': runState({ runId: 'r1' }), 'state/runs/broken.json': '{' });
  });
  afterAll(async () => {
    await tree.remove();
  });

  it('are never another partition\u2019s by name: the runId inside decides', () => {
    const inPartition = vi.fn(() => false);
    const kind = runFiles(contextWith({ inPartition }));
    expect(kind.decide(sourceFile('runs', 'state/runs/r1.json'))).toEqual({ action: 'read', plan: { ledgerDone: false } });
    expect(inPartition).not.toHaveBeenCalled();
  });

  it('skipped by the ledger still attribute files, by the runId it knows or by being read', () => {
    const context = contextWith({ skipFile: () => true, runIdOfSkipped: (file) => (file.relativePath.includes('known') ? 'known-run' : undefined) });
    const kind = runFiles(context);
    expect(kind.decide(sourceFile('runs', 'state/runs/known.json'))).toEqual({ action: 'skip' });
    expect(context.runIds.resolve('known-run')).toEqual({ kind: 'run', runId: 'known-run' });
    expect(kind.decide(sourceFile('runs', 'state/runs/r1.json'))).toEqual({ action: 'read', plan: { ledgerDone: true } });
  });

  it('of another partition are parsed for their runId, but neither reported nor handed over', async () => {
    const context = contextWith({ inPartition: () => false }, tree.root);
    const kind = runFiles(context);
    const { out, add } = outlet();
    expect(await kind.read(sourceFile('runs', 'state/runs/r1.json', tree.root), { ledgerDone: false }, out)).toBeUndefined();
    expect(await kind.read(sourceFile('runs', 'state/runs/broken.json', tree.root), { ledgerDone: false }, out)).toBeUndefined();
    expect(context.runIds.resolve('r1')).toEqual({ kind: 'run', runId: 'r1' });
    expect(context.tally.rejectionsSeen()).toBe(0);
    expect(add).not.toHaveBeenCalled();
  });

  it('of this partition give their document and position (rejections are the driver\u2019s to count)', async () => {
    const context = contextWith({ inPartition: () => true }, tree.root);
    const kind = runFiles(context);
    const { out, add } = outlet();
    const position = await kind.read(sourceFile('runs', 'state/runs/r1.json', tree.root), { ledgerDone: false }, out);
    expect(position).toMatchObject({ records: 1, rejected: 0, runId: 'r1' });
    expect(add).toHaveBeenCalledTimes(1);
    expect(await kind.read(sourceFile('runs', 'state/runs/broken.json', tree.root), { ledgerDone: false }, out)).toMatchObject({ records: 0, rejected: 0 });
    expect(context.tally.rejectionsSeen()).toBe(1);
  });
});

describe('artifact manifests', () => {
  it('ask the ledger without an attribution, and leave the partition to the runId inside', () => {
    const skipFile = vi.fn(() => false);
    const inPartition = vi.fn(() => false);
    const kind = artifactManifests(contextWith({ skipFile, inPartition }));
    expect(kind.decide(sourceFile('artifacts', 'artifacts/r1/artifact-manifest.json'))).toEqual({ action: 'read', plan: undefined });
    expect(skipFile.mock.calls[0]).toHaveLength(1);
    expect(inPartition).not.toHaveBeenCalled();
  });
});

describe('log files without --workers', () => {
  it('are read in the main thread, none ahead of its turn', async () => {
    const kind = logFiles(contextWith({}));
    const file = sourceFile('logs', 'logs/runs/r1.ndjson');
    const decision = kind.decide(file);
    expect(kind.lookAhead).toBe(0);
    if (decision.action !== 'read') throw new Error('expected a read');
    expect(kind.prepare?.(file, decision.plan)).toEqual({ resolution: { kind: 'orphan', runId: 'r1' } });
    await kind.close?.();
  });
});
