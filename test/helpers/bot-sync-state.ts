import type { PgPool } from '../../src/connections/postgres.js';

export interface SeededBot {
  instance: string;
  /** Seconds ago of the last successful sync; undefined: never synced. */
  syncedSecondsAgo?: number;
  discoveredSecondsAgo?: number;
  lastError?: string;
  missing?: boolean;
}

/** Bots and their bot_sync_state rows as bot-sync leaves them, for monitoring tests. */
export async function seedBotSyncState(pg: PgPool, bots: readonly SeededBot[]): Promise<void> {
  for (const bot of bots) {
    const { rows } = await pg.query<{ id: string }>(
      `INSERT INTO bots (instance_id, discovered_at, missing_since)
       VALUES ($1, now() - make_interval(secs => $2), CASE WHEN $3 THEN now() END) RETURNING id`,
      [bot.instance, bot.discoveredSecondsAgo ?? 3600, bot.missing ?? false],
    );
    if (bot.syncedSecondsAgo === undefined && bot.lastError === undefined) continue;
    await pg.query(
      `INSERT INTO bot_sync_state (bot_id, last_success_at, last_result, last_error, last_error_at)
       VALUES ($1, now() - make_interval(secs => $2::float8), $3, $4, CASE WHEN $4::text IS NOT NULL THEN now() END)`,
      [rows[0]!.id, bot.syncedSecondsAgo ?? null, JSON.stringify({ trades: { inserted: 1 } }), bot.lastError ?? null],
    );
  }
}
