import type { CollectionRole } from './collection-roles.js';

/** One path a glob matched. */
export interface SourceFile {
  role: CollectionRole;
  /** Relative to the source root, `/`-separated: what reports show. */
  relativePath: string;
  absolutePath: string;
  size: number;
  mtimeMs: number;
  /** Set when the path cannot be read as a regular file (directory, broken link, link loop, permissions). */
  unreadable?: string;
}
