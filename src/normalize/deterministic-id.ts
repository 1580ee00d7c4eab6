import { hash } from 'node:crypto';
import { ObjectId } from 'mongodb';

/** Scratch space of `deterministicObjectId` (each worker thread has its own module instance). */
const idBytes = Buffer.alloc(12);

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
  const seconds = Math.floor(time.getTime() / 1000);
  // ObjectId time is an unsigned 32-bit count of seconds; clamp timestamps outside 1970-2106 (an
  // invalid date gives 0, as it always did).
  idBytes.writeUInt32BE(Number.isNaN(seconds) ? 0 : Math.min(Math.max(seconds, 0), 0xffffffff), 0);
  // The digest as 'binary' (latin1) text, one char per byte, into a reused buffer: a Buffer result
  // allocates an ArrayBuffer per call, 3x slower and the import's largest allocation after parsing.
  const digest = hash('sha256', keyDigestInput(collection, keyParts), 'binary');
  for (let i = 0; i < 8; i++) idBytes[4 + i] = digest.charCodeAt(i);
  // The ObjectId reads the 12 bytes into fields of its own (bson 7): it keeps no reference to them,
  // which the property test checks by comparing ids made one after another.
  return new ObjectId(idBytes);
}

/** The text hashed for a key (exported for its tests). */
export function keyDigestInput(collection: string, keyParts: readonly string[]): string {
  let joined = collection;
  for (const part of keyParts) {
    if (part.includes('\u0000')) return `${collection}\u0001${JSON.stringify(keyParts)}`;
    joined += `\u0000${part}`;
  }
  return joined;
}
