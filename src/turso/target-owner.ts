import type { Client } from '@libsql/client';
import { createMetaTableSql, TARGET_META_TABLE } from './push-state.js';
import type { TargetLocation, TargetRefusedError } from './target-location.js';

/** The key of the target's metadata table (push-state.ts) that names the bot owning the target. */
const OWNER_KEY = 'instance';

async function readOwner(client: Client): Promise<string | undefined> {
  const table = await client.execute({
    sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    args: [TARGET_META_TABLE],
  });
  if (table.rows.length === 0) return undefined;
  const owner = await client.execute({
    sql: `SELECT value FROM ${TARGET_META_TABLE} WHERE key = ?`,
    args: [OWNER_KEY],
  });
  const value = owner.rows[0]?.[0];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Makes sure the target is this bot's before anything is written to (or restored from) it: a
 * target another bot owns is refused; a file target is used only when this pipeline created it
 * (a new file gets the owner row at once, an existing file without one is someone else's data).
 * A remote database without the row (provisioned, or pushed to by an older release) is claimed.
 */
export async function claimTarget(
  client: Client,
  instance: string,
  location: TargetLocation,
  mode: 'push' | 'restore',
  refuse: (rule: string) => TargetRefusedError,
): Promise<void> {
  const foreignFile = location.kind === 'file' && location.exists;
  let owner: string | undefined;
  try {
    owner = await readOwner(client);
  } catch (error) {
    // An existing file that SQLite cannot read is certainly not a target this pipeline created.
    if (foreignFile) throw refuse('it exists and is not a database this pipeline created');
    throw error;
  }
  if (owner === instance) return;
  if (owner !== undefined) throw refuse(`it is the target of bot ${owner}, not of ${instance}`);
  if (foreignFile)
    throw refuse(
      `it exists and was not created by this pipeline (no ${TARGET_META_TABLE} owner row); it is never overwritten: name a new file`,
    );
  if (mode === 'restore') return;
  await client.batch(
    [
      createMetaTableSql,
      {
        sql: `INSERT INTO ${TARGET_META_TABLE} (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
        args: [OWNER_KEY, instance],
      },
    ],
    'write',
  );
  // Two bots naming the same new target at once: the first row wins, the other bot is refused.
  const claimed = await readOwner(client);
  if (claimed !== instance) throw refuse(`it is the target of bot ${claimed ?? '(unknown)'}, not of ${instance}`);
}
