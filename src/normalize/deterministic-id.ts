import { hash } from 'node:crypto';
import { ObjectId } from 'mongodb';

/**
 * The spec gives logs, artifacts and approvals an ObjectId `_id` "generated per record". We derive
 * it from the record's unique key instead of drawing a random one, so that an interrupted and
 * resumed import ends byte-identical to a clean one. It is still a well-formed ObjectId: the
 * first 4 bytes are the record's own time (seconds), the other 8 a SHA-256 of collection and key.
 *
 * What is hashed: `collection NUL part1 NUL part2 ...` when no part contains a NUL (the form every
 * earlier version used, kept so a resumed import never rewrites an existing document), else
 * `collection SOH JSON.stringify(parts)`. The NUL join is unambiguous only for NUL-free parts
 * (("a\0b", "c") and ("a", "b\0c") would join alike); the second form is unambiguous for any parts,
 * and can never equal a first-form input, which has NUL right after the collection name.
 */
export function deterministicObjectId(collection: string, keyParts: readonly string[], time: Date): ObjectId {
  const bytes = Buffer.alloc(12);
  const seconds = Math.floor(time.getTime() / 1000);
  // ObjectId time is an unsigned 32-bit count of seconds; clamp timestamps outside 1970-2106.
  bytes.writeUInt32BE(Math.min(Math.max(seconds, 0), 0xffffffff), 0);
  // One-shot hash (a Hash object per document showed in the import's profile).
  hash('sha256', keyDigestInput(collection, keyParts), 'buffer').copy(bytes, 4, 0, 8);
  return new ObjectId(bytes);
}

/** The text hashed for a key (exported for its tests). */
export function keyDigestInput(collection: string, keyParts: readonly string[]): string {
  if (keyParts.some((part) => part.includes('\u0000'))) return `${collection}\u0001${JSON.stringify(keyParts)}`;
  return [collection, ...keyParts].join('\u0000');
}
