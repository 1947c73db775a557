import type { PgPool } from '../connections/postgres.js';

export interface BotSyncLag {
  instance: string;
  lastSuccessAt: Date | null;
  /** Seconds since the last successful sync; a bot never synced counts from its discovery. */
  lagSeconds: number;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Set when discovery no longer finds the bot's folder. */
  missingSince: Date | null;
}

/** Per-bot sync lag from bot_sync_state (written by bot-sync), most behind first. */
export async function botSyncLag(pg: PgPool): Promise<BotSyncLag[]> {
  const { rows } = await pg.query<{
    instance_id: string;
    last_success_at: Date | null;
    lag_seconds: number;
    last_error: string | null;
    last_error_at: Date | null;
    missing_since: Date | null;
  }>(`
    SELECT b.instance_id, s.last_success_at, s.last_error, s.last_error_at, b.missing_since,
           EXTRACT(EPOCH FROM now() - COALESCE(s.last_success_at, b.discovered_at, b.created_at))::float8 AS lag_seconds
      FROM bots b
      LEFT JOIN bot_sync_state s ON s.bot_id = b.id
     ORDER BY lag_seconds DESC, b.instance_id`);
  return rows.map((row) => ({
    instance: row.instance_id,
    lastSuccessAt: row.last_success_at,
    lagSeconds: Math.max(0, Math.round(row.lag_seconds * 10) / 10),
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    missingSince: row.missing_since,
  }));
}

/** The lag across bots: what an overloaded fleet shows (every bot a round behind) at a glance. */
export interface LagDistribution {
  /** Bots on disk; bots gone from it (missingSince) are left out. */
  bots: number;
  /** Nearest-rank quantiles of the bots' lag; null with no bot. */
  p50Seconds: number | null;
  p95Seconds: number | null;
  maxSeconds: number | null;
  /** Bots whose lag passes behindAfterSeconds. */
  behind: number;
  /** Twice SYNC_INTERVAL: the alert rule's threshold (CtpEtlBotSyncLagging). */
  behindAfterSeconds: number;
}

/** A bot whose lag passes twice the scheduler's interval is behind (the alert rule's threshold). */
export function behindAfterSeconds(syncIntervalMs: number): number {
  return (2 * syncIntervalMs) / 1000;
}

export function lagDistribution(lags: readonly BotSyncLag[], behindAfter: number): LagDistribution {
  const seconds = lags
    .filter((bot) => bot.missingSince === null)
    .map((bot) => bot.lagSeconds)
    .sort((a, b) => a - b);
  const rank = (q: number): number | null =>
    seconds.length === 0 ? null : seconds[Math.max(0, Math.ceil(q * seconds.length) - 1)]!;
  return {
    bots: seconds.length,
    p50Seconds: rank(0.5),
    p95Seconds: rank(0.95),
    maxSeconds: rank(1),
    behind: seconds.filter((lag) => lag > behindAfter).length,
    behindAfterSeconds: behindAfter,
  };
}
