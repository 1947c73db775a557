import type { Pool, PoolClient } from 'pg';
import {
  type WindowMemory,
  indexWindow,
  laterOf,
  scanWindow,
  unionIds,
  windowable,
  WINDOW_RULES,
  type HeldRows,
} from '../bots/change-window.js';
import type { DatesScan } from '../bots/dates-scan.js';
import type { BotDatabase } from './bot-database.js';
import { latestTradeStrategySql, registrationCurrentSql } from '../bots/bot-registry.js';
import type { SyncWindows } from './merge-sync.js';
import { prepared } from '../connections/prepared-statements.js';
import {
  findOtherWindows,
  heldOtherTablesQuery,
  otherHashRequests,
  type HeldOtherTables,
  type OtherTableCounts,
} from './other-tables.js';
import { FIRST_TRADES } from './reset-evidence.js';
import { ordersMapping, tradesMapping } from './freqtrade-columns.js';

export interface StoredSyncState {
  sourceFingerprint: string | null;
  /** The file's identity at the last good sync (null before migration 004's first sync). */
  sourceIdentity: string | null;
  tradesCount: number;
  ordersCount: number;
  /** What the next run's change window starts from (migration 010). */
  window: WindowMemory;
  /** The last run that scanned the rows' dates (migration 021); null before its first. */
  datesScan: DatesScan;
  /** PostgreSQL holds trades of the bot (else its sync is a first sync). */
  holdsTrades: boolean;
  /** Rows of the bot's other tables PostgreSQL held after the last sync, per table (migration 022); null: unknown. */
  otherCounts: OtherTableCounts | null;
  /** The bot's registry row is still the version given to readSyncState (bot-registry.ts RegistryMemory). */
  registrationCurrent: boolean;
}

/** The bot's sync state; `registration`: the registry row's version this process remembers, checked in the same statement. */
export async function readSyncState(
  client: PoolClient,
  botId: string,
  registration?: string,
): Promise<StoredSyncState | undefined> {
  const result = await client.query<{
    source_fingerprint: string | null;
    source_identity: string | null;
    trades_count: number;
    orders_count: number;
    window_at: Date | null;
    window_high_water: Date | null;
    full_compare_at: Date | null;
    source_schema: string | null;
    dates_scanned_at: Date | null;
    dates_high_water: Date | null;
    holds_trades: boolean;
    other_counts: OtherTableCounts | null;
    registration_current: boolean;
  }>(
    prepared(
      `SELECT source_fingerprint, source_identity, trades_count, orders_count, window_at, window_high_water, full_compare_at, source_schema,
       dates_scanned_at, dates_high_water, other_counts, EXISTS (SELECT 1 FROM trades_aggregated WHERE bot_id = $1) AS holds_trades,
       ${registration === undefined ? 'false' : registrationCurrentSql('$1', '$2')} AS registration_current
     FROM bot_sync_state WHERE bot_id = $1`,
      registration === undefined ? [botId] : [botId, registration],
    ),
  );
  const row = result.rows[0];
  return row
    ? {
        sourceFingerprint: row.source_fingerprint,
        sourceIdentity: row.source_identity,
        tradesCount: row.trades_count,
        ordersCount: row.orders_count,
        window: {
          at: row.window_at,
          highWater: row.window_high_water,
          fullAt: row.full_compare_at,
          schema: row.source_schema,
        },
        datesScan: { at: row.dates_scanned_at, highWater: row.dates_high_water },
        holdsTrades: row.holds_trades,
        otherCounts: row.other_counts,
        registrationCurrent: row.registration_current,
      }
    : undefined;
}

/**
 * A good sync ends whatever held the bot's syncs (held-bots.ts): in the statement that records it
 * (a data-modifying WITH), so the hold goes with the sync's COMMIT and a bot never held costs no
 * statement of its own. `$2` is the bot's instance.
 */
const RELEASE_HOLD = `released AS (DELETE FROM bot_holds WHERE instance_id = $2 AND job = 'bot-sync')`;

/** Written in the same transaction as the rows, so the state never claims more than PostgreSQL holds. */
export async function writeSyncSuccess(
  client: PoolClient,
  botId: string,
  instance: string,
  state: {
    fingerprint: string | null;
    identity: string | null;
    tradesCount: number;
    ordersCount: number;
    otherCounts: OtherTableCounts;
    result: object;
    window: WindowMemory;
    datesScan: DatesScan;
    /** Trades were written or deleted: the strategy of the bot's latest trade (NULL once it has none) is taken, for a bot whose config names none. */
    tradesWritten: boolean;
  },
): Promise<void> {
  const w = state.window;
  // In the same statement as the state (a data-modifying WITH runs whether read or not).
  const strategy = state.tradesWritten
    ? `, strategy AS (
         UPDATE bots SET strategy_name = latest.strategy, updated_at = now()
         FROM (SELECT (${latestTradeStrategySql('$1')}) AS strategy) AS latest
         WHERE bots.id = $1 AND bots.strategy_name IS DISTINCT FROM latest.strategy
           AND (jsonb_typeof(bots.config->'strategy') = 'string' AND bots.config->>'strategy' <> '') IS NOT TRUE)
       `
    : ' ';
  await client.query(
    prepared(
      `WITH ${RELEASE_HOLD}${strategy}INSERT INTO bot_sync_state (bot_id, source_fingerprint, source_identity, trades_count, orders_count, last_success_at, last_result, last_error, last_error_at, updated_at,
       window_at, window_high_water, full_compare_at, source_schema, dates_scanned_at, dates_high_water, other_counts)
     VALUES ($1, $3, $7, $4, $5, now(), $6, NULL, NULL, now(), $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (bot_id) DO UPDATE SET source_fingerprint = EXCLUDED.source_fingerprint, source_identity = EXCLUDED.source_identity, trades_count = EXCLUDED.trades_count,
       orders_count = EXCLUDED.orders_count, last_success_at = now(), last_result = EXCLUDED.last_result,
       last_error = NULL, last_error_at = NULL, updated_at = now(), window_at = EXCLUDED.window_at,
       window_high_water = EXCLUDED.window_high_water, full_compare_at = EXCLUDED.full_compare_at, source_schema = EXCLUDED.source_schema,
       dates_scanned_at = EXCLUDED.dates_scanned_at, dates_high_water = EXCLUDED.dates_high_water, other_counts = EXCLUDED.other_counts`,
      [
        botId,
        instance,
        state.fingerprint,
        state.tradesCount,
        state.ordersCount,
        JSON.stringify(state.result),
        state.identity,
        w.at,
        w.highWater,
        w.fullAt,
        w.schema,
        state.datesScan.at,
        state.datesScan.highWater,
        JSON.stringify(state.otherCounts),
      ],
    ),
  );
}

/** An unchanged bot costs one small write: the time of its last good sync (sync lag reads it). */
export async function touchSyncSuccess(client: PoolClient, botId: string, instance: string): Promise<void> {
  await client.query(
    prepared(
      `WITH ${RELEASE_HOLD}
     UPDATE bot_sync_state SET last_success_at = now(), last_error = NULL, last_error_at = NULL WHERE bot_id = $1`,
      [botId, instance],
    ),
  );
}

/** Records a failure for `ctp-etl status`; best effort, after the data transaction rolled back. */
export async function writeSyncFailure(pool: Pool, instance: string, message: string): Promise<void> {
  await pool.query(
    `INSERT INTO bot_sync_state (bot_id, last_error, last_error_at)
     SELECT id, $2, now() FROM bots WHERE instance_id = $1
     ON CONFLICT (bot_id) DO UPDATE SET last_error = EXCLUDED.last_error, last_error_at = now(), updated_at = now()`,
    [instance, message.slice(0, 2000)],
  );
}

/**
 * The rows FreqTrade may still change whatever their dates, as PostgreSQL holds them (the rule's
 * open column and its unfilled columns, which land in `extra`): the same conditions as
 * migration 015's partial indexes, which list them for a bot without reading its other rows.
 */
const HELD_OPEN_TRADES = [
  'is_open',
  ...(WINDOW_RULES.trades!.unfilled ?? []).map((c) => `extra @> '${JSON.stringify({ [c]: null })}'::jsonb`),
].join(' OR ');
const HELD_OPEN_ORDERS = 'ft_is_open IS NOT FALSE';

/**
 * bot-sync's change windows (bots/change-window.ts) for a bot PostgreSQL holds: its highest ids
 * and open rows are PostgreSQL's own (an order open there may have been closed by FreqTrade
 * without a date: fix_old_dry_orders), and the bot's first trades are always read (the reset
 * guard compares them with the file). With `datesSince`, each table is scanned once, for its
 * window by dates too, its latest date and its row count; without, the windows are found through
 * indexes alone (indexWindow), at a cost that follows the window, not the bot. The trades of the
 * window's orders come along. A string says why the file cannot be read by windows.
 */
export async function planSyncWindows(
  client: PoolClient,
  source: BotDatabase,
  botId: string,
  /** Where a scan of the rows' dates starts; undefined: no date scan this run (bots/dates-scan.ts datesScanSince). */
  datesSince: Date | undefined,
  /** Rows PostgreSQL held after the last sync (bot_sync_state). */
  counts: { trades: number; orders: number; others: OtherTableCounts | null },
  /** The windows' start (run-plan.ts), for what PostgreSQL holds of the bot's other tables. */
  since: Date,
  /** A window of at most this many rows is read inline (SYNC_BATCH_SIZE): its rows' hashes are asked first. */
  inlineRows: number,
): Promise<(SyncWindows & { otherTables: HeldOtherTables }) | string> {
  const keyed = source.guard(() => ({
    trades: windowable(source.db, 'trades'),
    orders: source.orders === undefined || windowable(source.db, 'orders'),
  }));
  if (!keyed.trades) return 'its trades table is not keyed by an INTEGER PRIMARY KEY id';
  if (!keyed.orders) return 'its orders table is not keyed by an INTEGER PRIMARY KEY id';
  // The other tables' held state comes along: one statement fewer for a changed bot's sync.
  const others = heldOtherTablesQuery(source.bot, since, counts.others);
  // So do the rejects of the trades' and orders' rows (recordRowRejects's): without any, none is dropped.
  const rejectsParams = [source.bot, [tradesMapping.source, ordersMapping.source]];
  const bot = `$${2 + others.params.length}`;
  const tables = `$${3 + others.params.length}`;
  const { rows } = await client.query<{
    max_trade: number | null;
    open_trades: number[] | null;
    first_trades: number[] | null;
    max_order: number | null;
    open_orders: number[] | null;
    trades_orders_rejects: number;
  }>(
    // Planning its many subqueries cost more than running them.
    prepared(
      `SELECT (SELECT max(trade_id) FROM trades_aggregated WHERE bot_id = $1) AS max_trade,
       (SELECT array_agg(trade_id) FROM trades_aggregated WHERE bot_id = $1 AND (${HELD_OPEN_TRADES})) AS open_trades,
       (SELECT array_agg(trade_id) FROM (SELECT trade_id FROM trades_aggregated WHERE bot_id = $1 ORDER BY trade_id LIMIT ${FIRST_TRADES}) f) AS first_trades,
       (SELECT max(order_pk) FROM orders WHERE bot_id = $1) AS max_order,
       (SELECT array_agg(order_pk) FROM orders WHERE bot_id = $1 AND ${HELD_OPEN_ORDERS}) AS open_orders,
       (SELECT count(*)::int FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE ${bot} || ':%'
          AND position LIKE 'rowid %' AND collection = ANY(${tables})) AS trades_orders_rejects,
       ${others.columns}`,
      [botId, ...others.params, ...rejectsParams],
    ),
  );
  const pg = rows[0]!;
  const tradesHeld: HeldRows = {
    maxId: pg.max_trade ?? Number.MIN_SAFE_INTEGER,
    openIds: pg.open_trades ?? [],
    extraIds: pg.first_trades ?? [],
  };
  const ordersHeld: HeldRows = { maxId: pg.max_order ?? Number.MIN_SAFE_INTEGER, openIds: pg.open_orders ?? [] };
  const held = {
    trades: { count: counts.trades, maxId: tradesHeld.maxId },
    orders: { count: counts.orders, maxId: ordersHeld.maxId },
  };
  return source.guard(() => {
    const window = (table: string, held: HeldRows, parentIds?: readonly number[]) =>
      datesSince === undefined
        ? indexWindow(source.db, table, held, parentIds)
        : scanWindow(source.db, table, datesSince, held, parentIds);
    const trades = window('trades', tradesHeld);
    const orders = source.orders ? window('orders', ordersHeld, trades.ids) : undefined;
    // The trades open now, open in the copy, or new: those whose custom data FreqTrade may have set.
    const liveTradeIds = unionIds(
      trades.openIds,
      unionIds(
        [...tradesHeld.openIds].sort((a, b) => a - b),
        trades.ids.filter((id) => id > tradesHeld.maxId),
      ),
    );
    const otherTables = others.read(pg);
    findOtherWindows(source, otherTables, since, datesSince === undefined ? { tradeIds: liveTradeIds } : undefined);
    return {
      trades: trades.window,
      tradeIds: unionIds(trades.ids, orders?.parentIds ?? []),
      firstTradeIds: pg.first_trades ?? [],
      moreHashes: otherHashRequests(otherTables, inlineRows),
      orders: orders?.window,
      orderIds: orders?.ids ?? [],
      held,
      counts: { trades: trades.count, orders: orders?.count ?? 0 },
      highWater: laterOf(trades.highWater, orders?.highWater ?? null),
      datesScanned: datesSince !== undefined,
      heldRejects: pg.trades_orders_rejects,
      otherTables,
    };
  });
}
