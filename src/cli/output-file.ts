import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { BackfillRuntimeError, UsageError, type RuntimeErrorCode } from '../errors.js';
import { sourceAreaHolding, sourceAreas } from './source-areas.js';

/** What an output file is for: the flag that named it and the code its write failures carry. */
export interface OutputRole {
  option: '--rejects' | '--report';
  failureCode: Extract<RuntimeErrorCode, 'OUTPUT_WRITE_FAILED' | 'REPORT_WRITE_FAILED'>;
}

/**
 * An output file (`--rejects`, `--report`), opened before any database work so a bad path is a
 * usage error up front, and written so that it can never change the source tree:
 *
 * - the target must not be inside `--source`, compared by real path (of `--source` and of the
 *   target's folder) and by device and inode, including what links inside the source point at;
 * - a target that is a symbolic link is refused (except to a character device or FIFO, below);
 * - a regular file is written to a temp file created exclusively (`O_EXCL | O_NOFOLLOW`) in the
 *   target's real folder, flushed, and renamed over the target at the end: an existing target is
 *   never opened, so a hard link to a source file, or a link planted meanwhile, is never written
 *   through, and a reader never sees half a file; on failure the target is left as it was;
 * - a character device or FIFO (`/dev/stderr`, `/dev/null`, a named pipe) is written directly.
 *
 * Writes are queued and never throw: the first failure is remembered, reported to `onFailure`
 * listeners (the import stops reading through them), and thrown by `commit`.
 */
export class OutputFile {
  private readonly queue: Buffer[] = [];
  private pumping: Promise<void> | undefined;
  private failed: BackfillRuntimeError | undefined;
  private readonly listeners: Array<(error: BackfillRuntimeError) => void> = [];
  private settled = false;

  private constructor(
    private readonly role: OutputRole,
    /** The target as the user named it (absolute). */
    readonly path: string,
    private readonly handle: FileHandle,
    /** The temp file renamed over `finalPath` by `commit`; undefined for a device. */
    private readonly temp: string | undefined,
    private readonly finalPath: string,
  ) {}

  /** Checks the target and opens it (a temp file beside it, or the device). */
  static async open(target: string, source: string, role: OutputRole): Promise<OutputFile> {
    const { option } = role;
    const existing = await lstatOrUndefined(target, option);
    if (existing?.isSymbolicLink()) {
      const resolved = await stat(target).catch(() => undefined);
      if (!resolved || !(resolved.isCharacterDevice() || resolved.isFIFO())) {
        const to = await realpath(target).catch(() => 'a missing file');
        throw new UsageError(`${option} ${target} is a symbolic link (to ${to}); name the file itself, outside --source`);
      }
    }
    if (existing?.isDirectory()) throw new UsageError(`${option} ${target} is a folder; name a file in it, e.g. ${path.join(target, defaultName(option))}`);
    const folder = await realFolder(path.dirname(target), option);
    const realTarget = path.join(folder, path.basename(target));
    const held = await sourceAreaHolding(await sourceAreas(source), realTarget, existing?.isFile() ? existing : undefined);
    if (held !== undefined) {
      const where = held === source ? `inside --source ${source}` : `inside the source tree: the link ${held} in --source points there`;
      throw new UsageError(`${option} ${target} is ${where}; the source tree is never written to, so name a file outside it`);
    }
    if (existing?.isCharacterDevice() || existing?.isFIFO() || existing?.isSymbolicLink()) {
      const handle = await openOrExplain(target, constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY, role);
      return new OutputFile(role, target, handle, undefined, target);
    }
    if (existing && !existing.isFile()) throw new UsageError(`${option} ${target} is not a regular file (a socket or block device); name a file`);
    // A temp file of our own, created exclusively and never through a link, in the real folder.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const temp = path.join(folder, `.${path.basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
    const handle = await openOrExplain(temp, flags, role);
    const file = new OutputFile(role, target, handle, temp, realTarget);
    // A replaced file keeps its permissions (someone may have narrowed them on purpose).
    if (existing) await handle.chmod(existing.mode & 0o7777).catch(() => undefined);
    return file;
  }

  /** The first write failure, if any. */
  get failure(): BackfillRuntimeError | undefined {
    return this.failed;
  }

  /** Called once, on the first write failure. */
  onFailure(listener: (error: BackfillRuntimeError) => void): void {
    this.listeners.push(listener);
  }

  /** Queues text; never throws (see `failure`). */
  write(text: string): void {
    if (this.failed || this.settled) return;
    this.queue.push(Buffer.from(text, 'utf8'));
    this.pumping ??= this.pump();
  }

  /** Writes what is queued, flushes, closes, and (for a regular file) renames it over the target. */
  async commit(): Promise<void> {
    while (this.pumping) await this.pumping;
    if (!this.failed && !this.settled) {
      this.settled = true;
      try {
        if (this.temp !== undefined) await this.handle.sync();
        await this.handle.close();
        if (this.temp !== undefined) await rename(this.temp, this.finalPath);
        return;
      } catch (error) {
        this.fail(error);
      }
    }
    await this.discard();
    if (this.failed) throw this.failed;
  }

  /** Closes without replacing the target; removes the temp file. Safe to call more than once. */
  async discard(): Promise<void> {
    if (!this.settled) {
      this.settled = true;
      await this.handle.close().catch(() => undefined);
    }
    if (this.temp !== undefined) await rm(this.temp, { force: true }).catch(() => undefined);
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failed) {
        const chunk = Buffer.concat(this.queue.splice(0));
        for (let offset = 0; offset < chunk.length; ) {
          const { bytesWritten } = await this.handle.write(chunk, offset, chunk.length - offset);
          if (bytesWritten <= 0) throw Object.assign(new Error('the file system accepted no bytes'), { code: 'EIO' });
          offset += bytesWritten;
        }
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.pumping = undefined;
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    const kept = this.temp === undefined ? '' : existingNote(this.path);
    this.failed = new BackfillRuntimeError(this.role.failureCode, `cannot write ${this.role.option} ${this.path}: ${describeErrno(error)}${kept}`, { cause: error });
    this.queue.length = 0;
    for (const listener of this.listeners) listener(this.failed);
  }
}

function existingNote(target: string): string {
  return `; ${path.basename(target)} was not replaced (an earlier one, if any, is as it was)`;
}

function defaultName(option: OutputRole['option']): string {
  return option === '--rejects' ? 'rejects.ndjson' : 'cutover.md';
}

async function lstatOrUndefined(target: string, option: string): Promise<Stats | undefined> {
  try {
    return await lstat(target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new UsageError(`${option} ${target}: a part of that path is a file, not a folder`);
    throw new UsageError(`${option} ${target} cannot be checked (${code ?? String(error)}); name a file in a folder you can write to`);
  }
}

/** The real path of the target's folder, which must exist: the tool creates no folders. */
async function realFolder(folder: string, option: string): Promise<string> {
  try {
    const real = await realpath(folder);
    if ((await stat(real)).isDirectory()) return real;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${option}: the folder ${folder} does not exist; create it first or name a file in an existing folder`);
    if (code !== 'ENOTDIR') throw new UsageError(`${option}: the folder ${folder} cannot be used (${code ?? String(error)}); name a file in a folder you can write to`);
  }
  throw new UsageError(`${option}: ${folder} is not a folder; name a file in an existing folder`);
}

/** Opens a path; a refusal the user can fix (permissions, read-only) is a usage error, the rest a runtime failure. */
async function openOrExplain(file: string, flags: number, role: OutputRole): Promise<FileHandle> {
  try {
    return await open(file, flags, 0o666);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = path.dirname(file);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new UsageError(`${role.option}: cannot create a file in ${where} (${code}); name a file in a folder you can write to`);
    }
    if (code === 'ENXIO') throw new UsageError(`${role.option} ${file} cannot be opened for writing (${code}: no reader on that pipe or socket)`);
    throw new BackfillRuntimeError(role.failureCode, `cannot open ${role.option} ${file}: ${describeErrno(error)}`, { cause: error });
  }
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EFBIG: 'the file is larger than allowed (file size limit)',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
};

function describeErrno(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code) return `${code} (${ERRNO_TEXT[code] ?? (error as Error).message})`;
  return error instanceof Error ? error.message : String(error);
}
