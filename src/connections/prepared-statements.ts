import { createHash } from 'node:crypto';
import type { QueryConfig } from 'pg';

const names = new Map<string, string>();

/**
 * A statement a hot path sends again and again with the same text (a changed bot's sync): named
 * by its text's hash, so pg prepares it once per connection and PostgreSQL parses and plans it
 * once, not on every run (for the sync's statements, planning cost about as much as running).
 * Only for texts from a small, fixed set, values passed as parameters: each distinct text stays
 * prepared for the connection's life.
 */
export function prepared(text: string, values?: unknown[]): QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `ctp_${createHash('md5').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values };
}
