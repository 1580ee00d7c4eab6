import { hash } from 'node:crypto';
import { ObjectId } from 'mongodb';

/**
 * The spec gives logs, artifacts and approvals an ObjectId `_id` "generated per record". We derive
 * it from the record's unique key instead of drawing a random one, so that an interrupted and
 * resumed import ends byte-identical to a clean one. It is still a well-formed ObjectId: the
 * first 4 bytes are the record's own time (seconds), the other 8 a SHA-256 of collection and key.
 */
export function deterministicObjectId(collection: string, keyParts: readonly string[], time: Date): ObjectId {
  const bytes = Buffer.alloc(12);
  const seconds = Math.floor(time.getTime() / 1000);
  // ObjectId time is an unsigned 32-bit count of seconds; clamp timestamps outside 1970-2106.
  bytes.writeUInt32BE(Math.min(Math.max(seconds, 0), 0xffffffff), 0);
  // One-shot hash (a Hash object per document showed in the import's profile); the bytes hashed
  // are the same as before: collection, then NUL and each part.
  hash('sha256', [collection, ...keyParts].join('\u0000'), 'buffer').copy(bytes, 4, 0, 8);
  return new ObjectId(bytes);
}
