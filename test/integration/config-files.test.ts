/**
 * Reading the --config files from a real folder (no server): the .NET environment layer after each
 * file, explicit files keeping their place, notes for the files not read, and usage errors for a
 * file that is missing, a folder or not JSON.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readConfigFiles } from '../../src/config/config-files.js';
import { UsageError } from '../../src/errors.js';
import { makeSourceTree, type SourceTree } from '../helpers/source-tree.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function folder(files: Record<string, string>): Promise<SourceTree> {
  const tree = await makeSourceTree(files, 'backfill-config-files-');
  cleanups.push(() => tree.remove());
  return tree;
}

const production = { name: 'Production', from: '--environment' } as const;

describe('readConfigFiles', () => {
  it('layers appsettings.{Environment}.json right after each appsettings.json that has one, paths as given', async () => {
    const dir = await folder({ 'web/appsettings.json': '{}', 'web/appsettings.Production.json': '{"a":1}', 'worker/appsettings.json': '{}' });
    const read = await readConfigFiles(['web/appsettings.json', 'worker/appsettings.json'], production, dir.root);
    expect(read.files.map((file) => file.path)).toEqual(['web/appsettings.json', 'web/appsettings.Production.json', 'worker/appsettings.json']);
    expect(read.files[1]?.text).toBe('{"a":1}');
    expect(read.notes).toEqual([]);
  });

  it('an environment file named explicitly keeps its own place (read once)', async () => {
    const dir = await folder({ 'appsettings.json': '{}', 'appsettings.Production.json': '{}', 'override.json': '{}' });
    const read = await readConfigFiles(['appsettings.json', 'override.json', 'appsettings.Production.json'], production, dir.root);
    expect(read.files.map((file) => file.path)).toEqual(['appsettings.json', 'override.json', 'appsettings.Production.json']);
  });

  it('matches the environment file name exactly, as .NET on Linux does, and says so when only the case differs', async () => {
    const dir = await folder({ 'appsettings.json': '{}', 'appsettings.production.json': '{}' });
    const read = await readConfigFiles([dir.path('appsettings.json')], production, '/');
    expect(read.files).toHaveLength(1);
    expect(read.notes).toHaveLength(1);
    expect(read.notes[0]).toContain('appsettings.production.json was not read');
  });

  it('without an environment name adds nothing, and notes each appsettings.{Name}.json beside the file', async () => {
    const dir = await folder({ 'appsettings.json': '{}', 'appsettings.Production.json': '{}', 'appsettings.Development.json': '{}', 'other.json': '{}' });
    const read = await readConfigFiles(['appsettings.json'], undefined, dir.root);
    expect(read.files.map((file) => file.path)).toEqual(['appsettings.json']);
    expect(read.notes.join('\n')).toMatch(/appsettings\.Production\.json was not read: no environment is named .* pass --environment Production/);
    expect(read.notes.join('\n')).toContain('--environment Development');
    expect(read.notes.join('\n')).not.toContain('other.json');
  });

  it('a missing file, a folder and a file in a missing folder are usage errors that say how to fix them', async () => {
    const dir = await folder({ 'conf/appsettings.json': '{}' });
    await expect(readConfigFiles(['nope/appsettings.json'], undefined, dir.root)).rejects.toThrow(UsageError);
    await expect(readConfigFiles(['nope.json'], undefined, dir.root)).rejects.toThrow(/^--config nope\.json: no such file \(.*nope\.json\)\. Check the path/);
    await expect(readConfigFiles(['conf'], undefined, dir.root)).rejects.toThrow(/^--config conf is a folder: name the appsettings\*\.json file in it$/);
  });
});
