import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BackfillRuntimeError, UsageError } from '../errors.js';
import type { ConfigFileText } from './parse-config-file.js';

/** The .NET environment whose `appsettings.{Name}.json` files are layered, and where its name came from. */
export interface DotnetEnvironment {
  name: string;
  from: '--environment' | 'DOTNET_ENVIRONMENT' | 'ASPNETCORE_ENVIRONMENT';
}

/**
 * The environment name as the service's host would see it: `--environment`, else
 * `DOTNET_ENVIRONMENT`, else `ASPNETCORE_ENVIRONMENT`. That is the .NET 7+ `WebApplicationBuilder`
 * order (the web service; DOTNET_ overrides ASPNETCORE_ there) and the generic host's (the worker,
 * which reads only DOTNET_ENVIRONMENT). Older web hosts (`ConfigureWebHostDefaults`,
 * `WebHost.CreateDefaultBuilder`) let ASPNETCORE_ENVIRONMENT win instead: the log says which
 * variable was used. Unlike the host, there is no default: without a name no environment file is
 * layered (see `readConfigFiles`).
 */
export function dotnetEnvironment(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): DotnetEnvironment | undefined {
  const candidates: Array<[DotnetEnvironment['from'], string | undefined]> = [
    ['--environment', flag],
    ['DOTNET_ENVIRONMENT', env.DOTNET_ENVIRONMENT],
    ['ASPNETCORE_ENVIRONMENT', env.ASPNETCORE_ENVIRONMENT],
  ];
  for (const [from, value] of candidates) {
    const name = value?.trim();
    if (!name) continue;
    if (/[/\\]/.test(name) || name === '.' || name === '..') {
      throw new UsageError(`${from} must be an environment name such as Production (got ${JSON.stringify(name)})`);
    }
    return { name, from };
  }
  return undefined;
}

/** The config files to layer, read, and what the operator should know about the ones not read. */
export interface ConfigFilesRead {
  files: ConfigFileText[];
  /** For the log: an environment file that does not exist in that case, one left out for want of an environment name. */
  notes: string[];
}

/**
 * Reads the `--config` files in order, as the .NET host layers them: after each `NAME.json` comes
 * `NAME.{Environment}.json` from the same folder when it exists (optional, as in .NET; also when
 * not named explicitly; a file named explicitly keeps its own place). File names are matched
 * exactly, as .NET on Linux does; a sibling that differs only in case is reported, not read.
 * Without an environment name nothing is added, and siblings that a host would read under its
 * default environment (Production) are reported: the tool runs in the operator's shell, not the
 * service's, so guessing the environment could layer another installation's settings.
 *
 * A file that is missing, a folder, or not readable is a usage error (exit 2) saying how to fix it.
 */
export async function readConfigFiles(given: readonly string[], environment: DotnetEnvironment | undefined, cwd: string): Promise<ConfigFilesRead> {
  const files: ConfigFileText[] = [];
  const notes: string[] = [];
  const explicit = new Set(given.map((file) => path.resolve(cwd, file)));
  for (const file of given) {
    files.push({ path: file, text: await readGiven(file, cwd) });
    const { dir, name, ext } = path.parse(file);
    if (ext.toLowerCase() !== '.json') continue;
    const siblings = await listFolder(path.resolve(cwd, dir));
    if (environment) {
      const layerName = `${name}.${environment.name}${ext}`;
      const layer = path.join(dir, layerName);
      if (explicit.has(path.resolve(cwd, layer))) continue;
      if (siblings.includes(layerName)) {
        files.push({ path: layer, text: await readGiven(layer, cwd) });
        continue;
      }
      const otherCase = siblings.find((sibling) => sibling.toLowerCase() === layerName.toLowerCase());
      if (otherCase) {
        notes.push(`${path.join(dir, otherCase)} was not read: the environment is "${environment.name}" and .NET on Linux matches file names exactly (pass --environment with the file's spelling)`);
      }
      continue;
    }
    const prefix = `${name}.`.toLowerCase();
    for (const sibling of siblings) {
      const lower = sibling.toLowerCase();
      if (!lower.startsWith(prefix) || !lower.endsWith(ext.toLowerCase()) || lower.length <= prefix.length + ext.length) continue;
      const siblingPath = path.join(dir, sibling);
      if (explicit.has(path.resolve(cwd, siblingPath))) continue;
      const envName = sibling.slice(name.length + 1, sibling.length - ext.length);
      notes.push(`${siblingPath} was not read: no environment is named (--environment, DOTNET_ENVIRONMENT or ASPNETCORE_ENVIRONMENT); the service's host reads it when its environment is ${envName} (Production is the host's default): pass --environment ${envName} if the service runs so`);
    }
  }
  return { files, notes };
}

async function readGiven(file: string, cwd: string): Promise<string> {
  const absolute = path.resolve(cwd, file);
  try {
    return await readFile(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = absolute === file ? '' : ` (${absolute})`;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(`--config ${file}: no such file${where}. Check the path (relative paths start from the current folder), or leave --config out and pass --uri`);
    }
    if (code === 'EISDIR') throw new UsageError(`--config ${file} is a folder: name the appsettings*.json file in it`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UsageError(`--config ${file}: permission denied${where}. Run as a user who can read it, or pass a readable copy`);
    }
    throw new BackfillRuntimeError('CONFIG_UNREADABLE', `cannot read config file ${file}: ${code ?? String(error)}`, { cause: error });
  }
}

async function listFolder(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch {
    // The file itself was readable; a folder we cannot list only means no environment files are found.
    return [];
  }
}
