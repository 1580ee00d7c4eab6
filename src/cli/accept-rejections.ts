import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { RejectionAcceptance } from '../domain/rejection-acceptance.js';

/**
 * Reads `--accept-rejections FILE`: a rejects file (`--rejects`) the operator reviewed, whose
 * records are accepted as not imported. A missing or malformed file is a usage error: silently
 * accepting nothing would keep the run failing without saying why, and accepting too much is
 * worse.
 */
export async function loadAcceptance(file: string | undefined, cwd: string): Promise<RejectionAcceptance | undefined> {
  if (file === undefined) return undefined;
  const absolute = path.resolve(cwd, file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    throw new UsageError(`--accept-rejections ${absolute} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}): name a rejects file written by --rejects`);
  }
  const parsed = RejectionAcceptance.parse(text);
  if ('error' in parsed) throw new UsageError(`--accept-rejections ${absolute}: ${parsed.error}`);
  return parsed;
}
