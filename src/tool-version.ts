import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE } from './runtime/installation.js';

export const TOOL_NAME = 'taskrunner-backfill';

/**
 * The package version: fixed at build time in the single-file bundle (which has no package.json
 * beside it), else found by walking up from this file to the package.json (works from src/, from
 * dist/src/ and from an installed package).
 */
export const TOOL_VERSION: string = BUNDLE ? BUNDLE.version : versionFromPackageJson();

function versionFromPackageJson(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === TOOL_NAME && pkg.version) return pkg.version;
    } catch {
      // not here; keep walking
    }
    const parent = path.dirname(dir);
    if (parent === dir) return '0.0.0-unknown';
    dir = parent;
  }
}
