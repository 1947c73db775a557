import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { QueueEvents } from 'bullmq';
import { Registry } from 'prom-client';
import { registerBoardMetrics } from '../../src/monitoring/board-metrics.js';
import { closeQueues, createQueues } from '../../src/queues/queues.js';
import { createScheduler, startWatcher, startWorkers } from '../../src/roles/roles.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { compareBots } from '../helpers/bot-equality.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

/** A bot's FreqTrade process: commits that move one open trade's max_rate, as adjust_min_max_rates does. */
interface Trader {
  bot: string;
  tradeId: number;
  /** The max_rate of each commit, in order; the last one is what PostgreSQL must end with. */
  written: number[];
  /** When each commit was made (ms). */
  writtenAt: number[];
  write(): void;
  close(): void;
}

function trader(root: string, bot: string, base: number): Trader {
  const db = new Database(botDbPath(root, bot));
  db.pragma('journal_mode = WAL');
  const { id } = db.prepare('SELECT id FROM trades WHERE is_open = 1 ORDER BY id LIMIT 1').get() as { id: number };
  const update = db.prepare('UPDATE trades SET max_rate = ? WHERE id = ?');
  const self: Trader = {
    bot,
    tradeId: id,
    written: [],
    writtenAt: [],
    write() {
      const rate = base + self.written.length + 1;
      update.run(rate, id);
      self.written.push(rate);
      self.writtenAt.push(Date.now());
    },
    close: () => db.close(),
  };
  return self;
}

/** One bot-sync run as the worker finished it, in the order they finished (concurrency 1: the order they ran). */
interface SyncRun {
  bot: string;
  /** A run that read nothing: the file was as its last sync left it, or the bot's queued job syncs it. */
  unchanged: boolean;
  startedAt: number;
  finishedAt: number;
}

/**
 * Trades per bot, each sync comparing every row (FULL_COMPARE_INTERVAL 0, below): enough that a
 * round through the backlog (one sync of each bot) outlasts the watcher's longest debounce (2 s),
 * so a bot that commits without pause is queued again before its next turn, as in a real backlog.
 * (A changed bot's windowed sync of such a bot now takes a few ms: a round of them would not.)
 */
const TRADES = 1500;

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe(
  'bot-sync under overload: every bot synced once per round, none starved, nothing lost',
  { timeout: 300_000 },
  () => {
    const dir = tempDir('overload');
    const root = path.join(dir.path, 'bots');
    const hot = 'hot';
    const warm = Array.from({ length: 15 }, (_, i) => `warm-${i}`);
    const cold = Array.from({ length: 4 }, (_, i) => `cold-${i}`);
    const bots = [hot, ...warm, ...cold];
    for (const [i, bot] of bots.entries())
      createFreqtradeDb(botDbPath(root, bot), { trades: TRADES, seed: i + 1, wal: true });
    // The schedules fire far more often than a round through the backlog takes: the overload case
    // of a fleet whose round outgrows SYNC_INTERVAL.
    const env = suiteEnvironment(
      'bot_sync_overload',
      {
        BOT_INSTANCES_DIR: root,
        WATCH_DEBOUNCE: '50ms',
        SYNC_INTERVAL: '300ms',
        DISCOVERY_INTERVAL: '1s',
        FULL_COMPARE_INTERVAL: '0',
      },
      { dir },
    );
    const runs: SyncRun[] = [];
    const started = new Map<string, number>();

    const registry = new Registry();

    before(async () => {
      const events = new QueueEvents('bot-sync', {
        connection: env.runtime.redis('worker'),
        prefix: env.config.QUEUE_PREFIX,
      });
      env.closeFirst(() => events.close());
      events.on('active', ({ jobId }) => started.set(jobId, Date.now()));
      events.on('completed', ({ jobId, returnvalue }) => {
        const result = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as {
          bot: string;
          skipped?: string;
        };
        const finishedAt = Date.now();
        runs.push({
          bot: result.bot,
          unchanged: result.skipped !== undefined,
          startedAt: started.get(jobId) ?? finishedAt,
          finishedAt,
        });
      });
      await events.waitUntilReady();
      // A worker slower than the writes: one job at a time, as `ctp-etl start` runs it, watcher and schedules included.
      await startWorkers(env.runtime, ['bot-sync'], 1);
      await startWatcher(env.runtime);
      (await createScheduler(env.runtime)).start();
      const queues = createQueues(env.config, env.runtime.redis('producer'), ['bot-sync']);
      env.closeFirst(() => closeQueues(queues));
      registerBoardMetrics(registry, {
        queues,
        pg: env.db.pool,
        redis: env.runtime.redis('producer'),
        logger: env.runtime.logger,
        config: env.config,
      });
      await waitFor(
        'every bot synced once',
        async () =>
          (await env.db.pool.query('SELECT count(*)::int AS n FROM bot_sync_state WHERE last_success_at IS NOT NULL'))
            .rows[0].n === bots.length,
        120_000,
        200,
      );
    });

    it('syncs each bot once per round while the writes outrun the worker, and every last write reaches PostgreSQL', async (t) => {
      const traders = new Map(bots.map((bot, i) => [bot, trader(root, bot, 1_000 * (i + 1))]));
      const loadStart = Date.now();
      // Long enough for several rounds of full compares on a loaded machine (a round took about
      // 6 s in a CI run, 2 s on a quiet machine).
      const loadMs = 30_000;
      // What an operator sees on /metrics while the writes go on: a scrape at 15 s, after the
      // backlog's first rounds, and at 29.5 s.
      const scrapeAt = [15_000, 29_500];
      const scrapes: Array<Promise<string>> = [];
      try {
        // The hot bot commits every 20 ms, the warm ones every 150 ms, each cold one once, mid-load.
        let next = 0;
        const coldAt = cold.map((_, i) => loadStart + 4_000 + i * 700);
        while (Date.now() - loadStart < loadMs) {
          const now = Date.now();
          traders.get(hot)!.write();
          if (now - loadStart >= next * 150) {
            for (const bot of warm) traders.get(bot)!.write();
            next += 1;
          }
          for (const [i, bot] of cold.entries()) {
            if (now >= coldAt[i]! && traders.get(bot)!.written.length === 0) traders.get(bot)!.write();
          }
          if (scrapes.length < scrapeAt.length && now - loadStart >= scrapeAt[scrapes.length]!) {
            scrapes.push(registry.metrics());
          }
          await sleep(20);
        }
      } finally {
        for (const t of traders.values()) t.close();
      }
      const loadEnd = Date.now();
      const seen = (await Promise.all(scrapes)).map((text) => ({
        p50: sample(text, 'ctp_etl_bot_sync_lag_quantile_seconds{quantile="0.5"}'),
        max: sample(text, 'ctp_etl_bot_sync_lag_quantile_seconds{quantile="1"}'),
        backlog: sample(text, 'ctp_etl_queue_oldest_waiting_seconds{queue="bot-sync"}'),
        waiting: sample(text, 'ctp_etl_queue_jobs{queue="bot-sync",state="waiting"}'),
      }));
      t.diagnostic(`/metrics while loaded: ${JSON.stringify(seen)}`);
      for (const { p50, max, backlog, waiting } of seen) {
        assert.ok(p50 !== undefined && max !== undefined && backlog !== undefined && waiting !== undefined);
        // Even: in a round-robin the lags spread from 0 to one round, so the worst is about twice
        // the median, plus up to the 2 s a bot writing without pause waits for its burst to be
        // enqueued (SyncDebouncer); a starved bot would lag many rounds.
        assert.ok(max <= 3 * p50 + 3, `lag evenly spread: max ${max} s, median ${p50} s`);
        assert.ok(waiting >= 5, `a backlog: ${waiting} bot-sync jobs waiting`);
        assert.ok(backlog <= max + 1, `the oldest waiting job (${backlog} s) no older than the worst lag (${max} s)`);
      }

      // Nothing lost: once the writes stop, every bot's last commit is in PostgreSQL, and every row.
      const stored = async (t: Trader): Promise<number | undefined> => {
        const { rows } = await env.db.pool.query<{ max_rate: string }>(
          `SELECT t.max_rate FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id
          WHERE b.instance_id = $1 AND t.trade_id = $2`,
          [t.bot, t.tradeId],
        );
        return rows[0] === undefined ? undefined : Number(rows[0].max_rate);
      };
      await waitFor(
        "every bot's last write in PostgreSQL",
        async () => {
          for (const t of traders.values()) if ((await stored(t)) !== t.written.at(-1)) return false;
          return true;
        },
        60_000,
        200,
      );
      for (const t of traders.values()) assert.equal(await stored(t), t.written.at(-1), `bot ${t.bot}'s last max_rate`);
      assert.deepEqual(await compareBots(env.db.pool, root, bots), {
        sourceRows: bots.length * TRADES * 3,
        lost: 0,
        duplicated: 0,
      });

      // The rounds: the syncs that ran while the writes went on.
      const during = runs.filter((run) => run.startedAt >= loadStart + 1_000 && run.finishedAt <= loadEnd);
      const real = during.filter((run) => !run.unchanged);
      const realOf = (bot: string): number => real.filter((run) => run.bot === bot).length;
      const busy = [hot, ...warm];
      const counts = Object.fromEntries(busy.map((bot) => [bot, realOf(bot)]));
      const fewest = Math.min(...Object.values(counts));
      const report = JSON.stringify({
        runs: during.length,
        real: real.length,
        counts,
        cold: cold.map((bot) => during.filter((run) => run.bot === bot).length),
      });
      t.diagnostic(`syncs while loaded: ${report}`);
      assert.ok(fewest >= 2, `every busy bot synced in several rounds: ${report}`);
      // Fair: a bot that commits every 20 ms gets a round's share, as the per-round rule below
      // puts it: at most twice between two syncs of any other bot (its queued job, plus a
      // scheduled run that started while it had none queued), never a sync per commit.
      assert.ok(counts[hot]! <= 2 * fewest + 1, `the hot bot took no more than its share: ${report}`);
      // Once per round: between two syncs of a warm bot, every other bot is synced at most once
      // (twice with the run in flight when it was queued), never its own sync twice over.
      for (const bot of warm) {
        const mine = real.filter((run) => run.bot === bot);
        for (let k = 1; k < mine.length; k++) {
          const between = real.filter(
            (run) => run.startedAt > mine[k - 1]!.startedAt && run.startedAt < mine[k]!.startedAt,
          );
          const perBot = new Map<string, number>();
          for (const run of between) perBot.set(run.bot, (perBot.get(run.bot) ?? 0) + 1);
          const most = Math.max(0, ...perBot.values());
          assert.ok(
            most <= 2,
            `between two syncs of ${bot}, no other bot synced more than twice: ${JSON.stringify([...perBot])}`,
          );
        }
      }
      // None starved by its own writes: the hot bot waits at most a round longer than a warm one,
      // plus the 2 s its burst of commits waits to be enqueued (SyncDebouncer), however short a
      // round this machine makes.
      const longestGap = (bot: string): number => {
        const starts = real.filter((run) => run.bot === bot).map((run) => run.startedAt);
        return Math.max(0, ...starts.slice(1).map((at, k) => at - starts[k]!));
      };
      const warmGap = Math.max(...warm.map(longestGap));
      assert.ok(
        longestGap(hot) <= warmGap + 2_500,
        `the hot bot waited ${longestGap(hot)} ms between syncs, a warm one at most ${warmGap} ms`,
      );
      // Bounded: what /metrics showed is at most the rounds' own length (the longest wait between
      // two syncs of a busy bot, a round of this machine's speed, which a loaded CI machine
      // stretches), plus the debounce; a backlog that grew would show lags of many rounds.
      const round = Math.max(warmGap, longestGap(hot)) / 1000;
      for (const { max } of seen)
        assert.ok(
          max! <= 1.5 * round + 3,
          `the worst lag (${max} s) within a round (${round} s): ${JSON.stringify(seen)}`,
        );
      // No bot's wait beyond one round: a cold bot's commit reaches PostgreSQL before the other 19
      // bots have each had more than one sync, give or take the few that started while its write
      // waited out the watcher's debounce (before the fix: up to 34).
      for (const bot of cold) {
        const committedAt = traders.get(bot)!.writtenAt[0]!;
        const covering = runs.find((run) => run.bot === bot && run.startedAt > committedAt && !run.unchanged);
        assert.ok(covering, `a sync of ${bot} after its commit`);
        const ahead = real.filter(
          (run) => run.bot !== bot && run.startedAt > committedAt && run.finishedAt <= covering.finishedAt,
        );
        t.diagnostic(
          `${bot}'s commit reached PostgreSQL after ${covering.finishedAt - committedAt} ms, behind ${ahead.length} syncs`,
        );
        assert.ok(
          ahead.length <= bots.length + 2,
          `${bot}'s commit waited for ${ahead.length} syncs of other bots, more than one round of ${bots.length} bots`,
        );
      }
    });
  },
);
