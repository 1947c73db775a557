import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { botConflicts, discoveryFreshnessSeconds } from '../bots/host-claims.js';
import type { HoldReason } from '../bots/held-bots.js';

/**
 * One bot as the board's /bots page shows it: the data `ctp-etl status` reads (bot_sync_state,
 * turso_push_targets, bot_holds, host claims), with a state worked out from it. Filtered, sorted
 * and paged in PostgreSQL, so a page of 10,000 bots costs one page.
 */
export type BotState = 'ok' | 'lagging' | 'missing' | HoldReason;

/** The states a filter may name; `held` is every hold reason. */
export const BOT_STATE_FILTERS = [
  'ok',
  'lagging',
  'missing',
  'held',
  'reset',
  'bad-file',
  'sync-config',
  'conflict',
] as const;
export type BotStateFilter = (typeof BOT_STATE_FILTERS)[number];

export const BOT_SORTS = ['bot', 'host', 'state', 'lag', 'push-lag', 'last-sync', 'epoch'] as const;
export type BotSort = (typeof BOT_SORTS)[number];

export interface BotsQuery {
  state?: BotStateFilter;
  /** Part of the bot's name, its host or its last error (case-insensitive). */
  text?: string;
  sort: BotSort;
  descending: boolean;
  /** 1-based. */
  page: number;
  perPage: number;
}

export interface BotOverview {
  bot: string;
  host: string | null;
  state: BotState;
  epoch: number;
  lagSeconds: number;
  /** Seconds since the last push to Turso; null for a bot never pushed. */
  tursoLagSeconds: number | null;
  lastSyncAt: Date | null;
  /** Rows the last sync inserted, updated or deleted. */
  lastSyncRowsWritten: number | null;
  /** How the last sync read the file: by change windows, every row (and why), or skipped as unchanged. */
  lastSyncMode: string | null;
  lastPushAt: Date | null;
  /** How the last push compared: by change windows or every row (its last full comparison). */
  lastPushFullCompareAt: Date | null;
  rejects: number;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Why the bot is held (the refusal's message: for a reset, what it found and what accepting does). */
  holdMessage: string | null;
  heldAt: Date | null;
  missingSince: Date | null;
}

export interface BotsPage {
  bots: BotOverview[];
  /** Bots matching the filter, on every page. */
  total: number;
  query: BotsQuery;
}

/** A whitelist: the sort a user names becomes one of these expressions, never their text. */
const ORDER_BY: Record<BotSort, string> = {
  bot: 'instance_id',
  host: 'host',
  state: 'state',
  lag: 'lag_seconds',
  'push-lag': 'turso_lag_seconds',
  'last-sync': 'last_success_at',
  epoch: 'epoch',
};

/** A bot lags once its last sync is older than twice the sync interval (the alert rule's threshold). */
export function lagThresholdSeconds(config: Pick<Config, 'SYNC_INTERVAL'>): number {
  return (2 * config.SYNC_INTERVAL) / 1000;
}

export async function botsOverview(
  pg: PgPool,
  config: Pick<Config, 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL' | 'SYNC_INTERVAL'>,
  query: BotsQuery,
): Promise<BotsPage> {
  const conflicted =
    config.BOT_DISCOVERY === 'hosts'
      ? [...new Set((await botConflicts(pg, discoveryFreshnessSeconds(config))).map((c) => c.instance))]
      : [];
  const direction = query.descending ? 'DESC' : 'ASC';
  const { rows } = await pg.query<{
    instance_id: string;
    host: string | null;
    state: BotState;
    epoch: number;
    lag_seconds: number;
    turso_lag_seconds: number | null;
    last_success_at: Date | null;
    last_result: {
      inserted?: number;
      updated?: number;
      deleted?: number;
      fullCompare?: string;
      skipped?: string;
    } | null;
    pushed_at: Date | null;
    push_full_compare_at: Date | null;
    rejects: number;
    last_error: string | null;
    last_error_at: Date | null;
    hold_message: string | null;
    held_at: Date | null;
    missing_since: Date | null;
    total: string;
  }>(
    `WITH overview AS (
       SELECT b.instance_id, b.host, b.epoch, b.missing_since, s.last_success_at, s.last_result, s.last_error, s.last_error_at,
              t.pushed_at, t.full_compare_at AS push_full_compare_at, h.message AS hold_message, h.held_at,
              EXTRACT(EPOCH FROM now() - COALESCE(s.last_success_at, b.discovered_at, b.created_at))::float8 AS lag_seconds,
              EXTRACT(EPOCH FROM now() - t.pushed_at)::float8 AS turso_lag_seconds,
              CASE WHEN b.instance_id = ANY($1::text[]) THEN 'conflict'
                   WHEN h.reason IS NOT NULL THEN h.reason
                   WHEN b.missing_since IS NOT NULL THEN 'missing'
                   WHEN now() - COALESCE(s.last_success_at, b.discovered_at, b.created_at) > make_interval(secs => $2) THEN 'lagging'
                   ELSE 'ok' END AS state
         FROM bots b
         LEFT JOIN bot_sync_state s ON s.bot_id = b.id
         LEFT JOIN turso_push_targets t ON t.instance = b.instance_id
         -- A bot held for both jobs shows its bot-sync hold (the one accepting a reset clears).
         LEFT JOIN LATERAL (SELECT reason, message, held_at FROM bot_holds WHERE instance_id = b.instance_id
                             ORDER BY job LIMIT 1) h ON true
     ),
     page AS (
       SELECT *, count(*) OVER () AS total FROM overview
        WHERE ($3::text IS NULL OR state = $3::text
               OR ($3::text = 'held' AND state IN ('reset', 'bad-file', 'sync-config', 'conflict')))
          AND ($4::text IS NULL OR strpos(lower(instance_id || ' ' || COALESCE(host, '') || ' ' || COALESCE(last_error, '')), lower($4)) > 0)
        ORDER BY ${ORDER_BY[query.sort]} ${direction} NULLS LAST, instance_id ${direction}
        LIMIT $5 OFFSET $6
     )
     SELECT p.*, (SELECT count(*)::int FROM rejects r WHERE r.source = 'bot-sync'
                   AND left(r.source_ref, length(p.instance_id) + 1) = p.instance_id || ':') AS rejects
       FROM page p
      ORDER BY ${ORDER_BY[query.sort]} ${direction} NULLS LAST, instance_id ${direction}`,
    [
      conflicted,
      lagThresholdSeconds(config),
      query.state ?? null,
      query.text === undefined || query.text === '' ? null : query.text,
      query.perPage,
      (query.page - 1) * query.perPage,
    ],
  );
  const total = rows[0] === undefined ? await countMatching() : Number(rows[0].total);
  return {
    query,
    total,
    bots: rows.map((row) => ({
      bot: row.instance_id,
      host: row.host,
      state: row.state,
      epoch: row.epoch,
      lagSeconds: Math.max(0, Math.round(row.lag_seconds)),
      tursoLagSeconds: row.turso_lag_seconds === null ? null : Math.max(0, Math.round(row.turso_lag_seconds)),
      lastSyncAt: row.last_success_at,
      lastSyncRowsWritten: row.last_result
        ? (row.last_result.inserted ?? 0) + (row.last_result.updated ?? 0) + (row.last_result.deleted ?? 0)
        : null,
      lastSyncMode: syncMode(row.last_result),
      lastPushAt: row.pushed_at,
      lastPushFullCompareAt: row.push_full_compare_at,
      rejects: row.rejects,
      lastError: row.last_error,
      lastErrorAt: row.last_error_at,
      holdMessage: row.hold_message,
      heldAt: row.held_at,
      missingSince: row.missing_since,
    })),
  };

  // A page past the last one has no row to carry the count.
  async function countMatching(): Promise<number> {
    if (query.page === 1) return 0;
    const first = await botsOverview(pg, config, { ...query, page: 1, perPage: 1 });
    return first.total;
  }
}

function syncMode(result: { fullCompare?: string; skipped?: string } | null): string | null {
  if (result === null) return null;
  if (result.skipped) return `skipped (${result.skipped})`;
  if (result.fullCompare) return `every row: ${result.fullCompare}`;
  // A first sync reads every row too, but its result does not say so apart from a windowed one.
  return 'change windows (or a first sync)';
}
