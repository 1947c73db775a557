import { createHash } from 'node:crypto';

/** A number from 0 to 2^32 - 1 that a key always gives, spread evenly over keys: for spreading bots' work in time. */
export function stableHash32(key: string): number {
  return createHash('sha1').update(key).digest().readUInt32BE(0);
}
