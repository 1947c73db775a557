import type { PoolClient } from 'pg';
import { botDatabaseIdentity, findBotDatabaseFile } from '../bots/bot-database-file.js';
import { judgeReset, type ResetVerdict } from '../bots/reset-guard.js';
import type { BotSyncContext } from './sync-context.js';
import { BotDatabase } from './bot-database.js';
import { ordersMapping, otherMappings, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { stageSource, stageTable } from './merge-sync.js';
import type { RowReject } from './source-lines.js';
import { quoteIdent } from '../sql-identifier.js';
import { gatherResetEvidence } from './reset-evidence.js';
import { withTransaction } from '../connections/transaction.js';

/** Keys shown per kind of change: enough to look a few rows up, never the whole table. */
const SAMPLE_KEYS = 5;

export interface PlannedChanges {
  count: number;
  /** The lowest keys concerned, at most SAMPLE_KEYS. */
  sample: number[];
}

export interface TablePlan {
  inserted: PlannedChanges;
  updated: PlannedChanges;
  deleted: PlannedChanges;
  unchanged: number;
}

/** What `bot-sync --dry-run` reports: what a sync would do now, with nothing written. */
export interface BotSyncDryRun {
  bot: string;
  dryRun: true;
  file: string;
  trades: TablePlan;
  orders: TablePlan;
  /** The bot's other tables by PostgreSQL name (pairlocks, trade_custom_data, wallet_history, key_value_store), each compared whole. */
  otherTables: Record<string, TablePlan>;
  /** Rows a sync would put in `rejects` (no usable key, an order of a missing trade). */
  rejected: number;
  /** The guard's verdict: a suspected reset is refused by a real run until accepted. */
  reset: ResetVerdict;
  ms: number;
}

/**
 * Compares the staged source (stage_trades, stage_orders) with the bot's rows, as the merge
 * would (a changed hash is an update, a row the source lost a deletion), reading only.
 * `botId` undefined: PostgreSQL holds nothing of the bot, so every usable row is an insert.
 */
export async function planTable(
  client: PoolClient,
  mapping: TableMapping,
  stage: string | undefined,
  botId: string | undefined,
): Promise<TablePlan> {
  const key = quoteIdent(mapping.key.target);
  const target = quoteIdent(mapping.target);
  const parent =
    mapping === ordersMapping ? 'AND EXISTS (SELECT 1 FROM stage_trades p WHERE p.trade_id = s.trade_id)' : '';
  const sample = (filter: string): string => `(array_agg(k ORDER BY k) FILTER (WHERE ${filter}))[1:${SAMPLE_KEYS}]`;
  const empty = { count: 0, sample: [] };
  let inserted: PlannedChanges = empty;
  let updated: PlannedChanges = empty;
  let unchanged = 0;
  if (stage !== undefined) {
    const { rows } = await client.query<
      Record<string, string | null> & Record<'ins_keys' | 'upd_keys', string[] | null>
    >(
      `WITH j AS (
         SELECT s.${key} AS k, s.row_hash AS new, t.row_hash AS old
         FROM ${quoteIdent(stage)} s LEFT JOIN ${target} t ON t.bot_id = $1::uuid AND t.${key} = s.${key}
         WHERE s.${key} IS NOT NULL ${parent})
       SELECT count(*) FILTER (WHERE old IS NULL) AS ins, count(*) FILTER (WHERE old IS DISTINCT FROM new AND old IS NOT NULL) AS upd,
         count(*) FILTER (WHERE old = new) AS same,
         ${sample('old IS NULL')}::text[] AS ins_keys, ${sample('old IS DISTINCT FROM new AND old IS NOT NULL')}::text[] AS upd_keys
       FROM j`,
      [botId ?? null],
    );
    const row = rows[0]!;
    inserted = { count: Number(row.ins), sample: (row.ins_keys ?? []).map(Number) };
    updated = { count: Number(row.upd), sample: (row.upd_keys ?? []).map(Number) };
    unchanged = Number(row.same);
  }
  let deleted: PlannedChanges = empty;
  if (botId !== undefined) {
    const kept =
      stage === undefined
        ? 'false'
        : `EXISTS (SELECT 1 FROM ${quoteIdent(stage)} s WHERE s.${key} = t.${key} ${parent})`;
    const { rows } = await client.query<{ n: string; keys: string[] | null }>(
      `SELECT count(*) AS n, (array_agg(t.${key} ORDER BY t.${key}))[1:${SAMPLE_KEYS}]::text[] AS keys
       FROM ${target} t WHERE t.bot_id = $1 AND NOT ${kept}`,
      [botId],
    );
    deleted = { count: Number(rows[0]!.n), sample: (rows[0]!.keys ?? []).map(Number) };
  }
  return { inserted, updated, deleted, unchanged };
}

/** Both tables' plans; `withOrders` false: the source has no orders table (older FreqTrade). */
export async function planSync(
  client: PoolClient,
  botId: string | undefined,
  withOrders: boolean,
): Promise<{ trades: TablePlan; orders: TablePlan }> {
  return {
    trades: await planTable(client, tradesMapping, 'stage_trades', botId),
    orders: await planTable(client, ordersMapping, withOrders ? 'stage_orders' : undefined, botId),
  };
}

/** Staged orders whose trade is not staged: a sync would reject them. */
export async function countOrphanOrders(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM stage_orders s WHERE s.order_pk IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM stage_trades p WHERE p.trade_id = s.trade_id)`,
  );
  return Number(rows[0]!.n);
}

/**
 * The other tables' plans: each table the source has staged whole (stage_<table>) and compared;
 * one it lacks would have the bot's rows of it deleted. Returns the rows a sync would reject too.
 */
async function planOtherTables(
  ctx: BotSyncContext,
  client: PoolClient,
  source: BotDatabase,
  botId: string | undefined,
): Promise<{ plans: Record<string, TablePlan>; rejected: number }> {
  const plans: Record<string, TablePlan> = {};
  const rejects: RowReject[] = [];
  for (const mapping of otherMappings) {
    const present = source.others.includes(mapping);
    const stage = `stage_${mapping.target}`;
    if (present) {
      const progress = { done: 0, total: source.count(mapping.source) };
      await stageTable(ctx, client, source, mapping, { stage, window: undefined, inline: false, progress, rejects });
    }
    plans[mapping.target] = await planTable(client, mapping, present ? stage : undefined, botId);
  }
  return { plans, rejected: rejects.length };
}

/**
 * `bot-sync --dry-run`: reads the bot's file and stages it as a sync would, compares, and rolls
 * everything back, so nothing is written (not the bot, not its state, not a reject).
 */
export async function dryRunBot(ctx: BotSyncContext, instance: string): Promise<BotSyncDryRun> {
  const started = performance.now();
  const file = await findBotDatabaseFile(ctx.config, instance);
  const identity = await botDatabaseIdentity(file);
  return withTransaction(
    ctx.pg,
    async (client) => {
      const known = await client.query<{ id: string; source_identity: string | null }>(
        `SELECT b.id, s.source_identity FROM bots b LEFT JOIN bot_sync_state s ON s.bot_id = b.id WHERE b.instance_id = $1`,
        [instance],
      );
      const botId = known.rows[0]?.id;
      const before = known.rows[0]?.source_identity ?? undefined;
      const source = BotDatabase.open(instance, file, ctx.config.SQLITE_BUSY_TIMEOUT);
      try {
        const unkeyed = await stageSource(ctx, client, source);
        const plans = await planSync(client, botId, Boolean(source.orders));
        const others = await planOtherTables(ctx, client, source, botId);
        const orphans = source.orders ? await countOrphanOrders(client) : 0;
        const reset =
          botId === undefined
            ? { suspected: false, findings: [] }
            : judgeReset(
                await gatherResetEvidence(
                  client,
                  botId,
                  Boolean(source.orders),
                  before !== undefined && identity !== undefined ? { before, now: identity } : undefined,
                ),
                ctx.config.DELETE_GUARD_RATIO,
              );
        const result: BotSyncDryRun = {
          bot: instance,
          dryRun: true,
          file,
          ...plans,
          otherTables: others.plans,
          rejected: unkeyed + orphans + others.rejected,
          reset,
          ms: Math.round(performance.now() - started),
        };
        const line = (name: string, p: TablePlan): string =>
          `${name} +${p.inserted.count} ~${p.updated.count} -${p.deleted.count} =${p.unchanged}`;
        await ctx.log(
          `bot ${instance} (dry run, nothing written): ${line('trades', result.trades)}; ${line('orders', result.orders)}` +
            Object.entries(result.otherTables)
              .map(([table, p]) => `; ${line(table, p)}`)
              .join('') +
            (reset.suspected ? `; a sync would be refused: ${reset.findings.join('; ')}` : ''),
        );
        return result;
      } finally {
        source.close();
      }
    },
    { commit: false },
  );
}
