import type { LedgerFileEntry } from '../../src/ledger/ledger-types.js';

/**
 * A ledger file entry with `updatedAt` as the packed ledger keeps it: milliseconds (per-file
 * documents and new entries hold a Date; nothing decides on it), so entries compare whatever
 * layer they were read from.
 */
export function asStored<E extends LedgerFileEntry | undefined>(e: E): E {
  return e && { ...e, updatedAt: e.updatedAt instanceof Date ? e.updatedAt.getTime() : e.updatedAt };
}
