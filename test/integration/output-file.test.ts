/**
 * OutputFile on the real file system (temp folders, real links, /dev/full): how an output file is
 * replaced, and what happens when something changes under it or a write fails.
 */
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OutputFile, type OutputRole } from '../../src/cli/output-file.js';
import { BackfillRuntimeError, UsageError } from '../../src/errors.js';

const REJECTS: OutputRole = { option: '--rejects', failureCode: 'OUTPUT_WRITE_FAILED' };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function folders(): Promise<{ source: string; out: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'backfill-output-file-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const source = path.join(dir, 'source');
  const out = path.join(dir, 'out');
  await mkdir(path.join(source, 'state'), { recursive: true });
  await writeFile(path.join(source, 'state', 'run.json'), '{"runId":"r"}\n');
  await mkdir(out);
  return { source, out };
}

describe('OutputFile', () => {
  it('writes beside the target and renames over it at the end: nothing shows before, no temp file after', async () => {
    const { source, out } = await folders();
    const target = path.join(out, 'rejects.ndjson');
    const file = await OutputFile.open(target, source, REJECTS);
    file.write('one\n');
    file.write('two\n');
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
    await file.commit();
    expect(await readFile(target, 'utf8')).toBe('one\ntwo\n');
    expect(await readdir(out)).toEqual(['rejects.ndjson']);
  });

  it('a link planted at the target after opening is replaced, never written through', async () => {
    const { source, out } = await folders();
    const target = path.join(out, 'rejects.ndjson');
    const victim = path.join(source, 'state', 'run.json');
    const file = await OutputFile.open(target, source, REJECTS);
    await symlink(victim, target);
    file.write('rejections\n');
    await file.commit();
    expect(await readFile(victim, 'utf8')).toBe('{"runId":"r"}\n');
    expect((await lstat(target)).isFile()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('rejections\n');
  });

  it('keeps the permissions of the file it replaces', async () => {
    const { source, out } = await folders();
    const target = path.join(out, 'cutover.md');
    await writeFile(target, 'old\n', { mode: 0o600 });
    const file = await OutputFile.open(target, source, { option: '--report', failureCode: 'REPORT_WRITE_FAILED' });
    file.write('new\n');
    await file.commit();
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readFile(target, 'utf8')).toBe('new\n');
  });

  it('a failure leaves the earlier target as it was and reports the stable code once', async () => {
    const { source, out } = await folders();
    const target = path.join(out, 'rejects.ndjson');
    await writeFile(target, 'earlier run\n');
    const file = await OutputFile.open(target, source, REJECTS);
    file.write('new\n');
    // Someone removes the temp file: the rename at the end fails.
    for (const name of await readdir(out)) if (name.endsWith('.tmp')) await unlink(path.join(out, name));
    const error = await file.commit().then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(BackfillRuntimeError);
    expect(error).toMatchObject({ code: 'OUTPUT_WRITE_FAILED' });
    expect((error as Error).message).toMatch(/rejects\.ndjson was not replaced/);
    expect(await readFile(target, 'utf8')).toBe('earlier run\n');
  });

  it('on a full device every later write is dropped, the listeners hear once, commit throws', async () => {
    const { source } = await folders();
    const file = await OutputFile.open('/dev/full', source, REJECTS);
    const heard: BackfillRuntimeError[] = [];
    file.onFailure((error) => heard.push(error));
    file.write('x\n');
    await expect(file.commit()).rejects.toMatchObject({ code: 'OUTPUT_WRITE_FAILED', message: expect.stringMatching(/ENOSPC/) });
    file.write('more\n');
    expect(heard).toHaveLength(1);
    expect(file.failure).toBe(heard[0]);
  });

  it('refuses, as usage errors, targets in the source by any path and links to regular files', async () => {
    const { source, out } = await folders();
    const alias = path.join(out, 'alias');
    await symlink(source, alias);
    await expect(OutputFile.open(path.join(alias, 'state', 'x.ndjson'), source, REJECTS)).rejects.toThrow(UsageError);
    const outside = await OutputFile.open(path.join(out, 'r.ndjson'), alias, REJECTS);
    await outside.discard();
    await expect(OutputFile.open(path.join(source, 'x.ndjson'), alias, REJECTS)).rejects.toThrow(/is inside --source/);
    const linked = path.join(out, 'linked.ndjson');
    await symlink(path.join(out, 'nowhere'), linked);
    await expect(OutputFile.open(linked, source, REJECTS)).rejects.toThrow(/is a symbolic link/);
    // Nothing was created by the refusals, and the discarded file left no temp file.
    expect((await readdir(out)).sort()).toEqual(['alias', 'linked.ndjson']);
  });
});
