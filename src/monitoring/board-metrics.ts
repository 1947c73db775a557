import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import type { RedisConnection } from '../connections/redis.js';
import { heldBots } from '../bots/held-bots.js';
import { errorMessage } from '../errors.js';
import { withTimeout } from '../lifecycle/deadlines.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues/queues.js';
import { behindAfterSeconds, botSyncLag, lagDistribution, type LagDistribution } from './bot-sync-lag.js';
import { queueDepths, queueWorkers } from './queue-depths.js';
import { redisMemory } from './redis-memory.js';

/** How long a scrape waits for Redis or PostgreSQL before it answers without their gauges. */
const METRICS_SOURCE_TIMEOUT_MS = 2_000;

/**
 * The shared state behind /metrics, read from Redis and PostgreSQL on each scrape (so every
 * board replica reports the same values): jobs and workers per queue, per-bot sync lag and holds,
 * and Redis memory.
 * A source that does not answer leaves its gauge empty for that scrape rather than failing
 * the whole scrape (and a source that hangs, as BullMQ does while Redis is down, is given up after
 * METRICS_SOURCE_TIMEOUT_MS); /health says which one is down.
 */
export function registerBoardMetrics(
  registry: Registry,
  sources: {
    queues: Queues;
    pg: PgPool;
    redis: RedisConnection;
    logger: Logger;
    config: Pick<Config, 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL' | 'SYNC_INTERVAL'>;
  },
): void {
  // The three lag gauges of a scrape are collected at once (prom-client collects a scrape's
  // gauges concurrently): they share the read in flight, one query per scrape, not three. So do
  // the two queue gauges, one read of the queues' depths (a few Redis calls per queue) per scrape.
  const scrapeLags = sharedInFlight(() => withTimeout(botSyncLag(sources.pg), METRICS_SOURCE_TIMEOUT_MS));
  const scrapeDepths = sharedInFlight(() => withTimeout(queueDepths(sources.queues), METRICS_SOURCE_TIMEOUT_MS));
  /** The lag across bots on disk, or undefined (logged) when PostgreSQL does not answer in time. */
  const lagSpread = async (): Promise<LagDistribution | undefined> => {
    try {
      const lags = await scrapeLags();
      return lagDistribution(lags, behindAfterSeconds(sources.config.SYNC_INTERVAL));
    } catch (error) {
      sources.logger.warn('metrics: bot sync lag unavailable', { error: errorMessage(error) });
      return undefined;
    }
  };
  new Gauge({
    name: 'ctp_etl_queue_jobs',
    help: 'Jobs per queue and state (waiting, active, delayed, completed, failed, ...)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const { queue, counts } of await scrapeDepths()) {
          for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
        }
      } catch (error) {
        sources.logger.warn('metrics: queue counts unavailable', { error: errorMessage(error) });
      }
    },
  });
  new Gauge({
    name: 'ctp_etl_bot_sync_lag_seconds',
    help: 'Seconds since the last successful sync of each bot (since discovery if never synced); bots gone from disk are left out',
    labelNames: ['instance'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const bot of await scrapeLags()) {
          if (bot.missingSince === null) this.set({ instance: bot.instance }, bot.lagSeconds);
        }
      } catch (error) {
        sources.logger.warn('metrics: bot sync lag unavailable', { error: errorMessage(error) });
      }
    },
  });
  new Gauge({
    name: 'ctp_etl_bot_sync_lag_quantile_seconds',
    help: 'Sync lag across bots on disk (seconds since each one last synced): the median, 95th percentile and maximum (quantile 0.5, 0.95, 1); under overload every bot sits about one round of the backlog behind',
    labelNames: ['quantile'],
    registers: [registry],
    async collect() {
      this.reset();
      const spread = await lagSpread();
      if (spread === undefined) return;
      for (const [quantile, seconds] of [
        ['0.5', spread.p50Seconds],
        ['0.95', spread.p95Seconds],
        ['1', spread.maxSeconds],
      ] as const) {
        if (seconds !== null) this.set({ quantile }, seconds);
      }
    },
  });
  new Gauge({
    name: 'ctp_etl_bots_behind',
    help: 'Bots on disk whose sync lag passes twice SYNC_INTERVAL (count(ctp_etl_bot_sync_lag_seconds) is all of them)',
    registers: [registry],
    async collect() {
      this.reset();
      const spread = await lagSpread();
      if (spread !== undefined) this.set(spread.behind);
    },
  });
  new Gauge({
    name: 'ctp_etl_queue_oldest_waiting_seconds',
    help: 'Per queue, how long its oldest waiting job has waited since it was due: the backlog in seconds (absent: none waits)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const { queue, oldestWaitingSeconds } of await scrapeDepths()) {
          if (oldestWaitingSeconds !== null) this.set({ queue }, oldestWaitingSeconds);
        }
      } catch (error) {
        sources.logger.warn('metrics: queue backlog unavailable', { error: errorMessage(error) });
      }
    },
  });
  new Gauge({
    name: 'ctp_etl_held_bots',
    help: 'Bot jobs held (1 each): refused for a reason only a new file or an operator clears (reset, bad-file, sync-config, conflict); none is enqueued meanwhile',
    labelNames: ['instance', 'job', 'reason'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const hold of await withTimeout(heldBots(sources.pg, sources.config), METRICS_SOURCE_TIMEOUT_MS)) {
          this.set({ instance: hold.instance, job: hold.job, reason: hold.reason }, 1);
        }
      } catch (error) {
        sources.logger.warn('metrics: held bots unavailable', { error: errorMessage(error) });
      }
    },
  });
  new Gauge({
    name: 'ctp_etl_queue_workers',
    help: 'Workers listening on each queue (a queue with jobs and no worker is one no host serves)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const { queue, workers } of await withTimeout(queueWorkers(sources.queues), METRICS_SOURCE_TIMEOUT_MS)) {
          this.set({ queue }, workers);
        }
      } catch (error) {
        sources.logger.warn('metrics: queue workers unavailable', { error: errorMessage(error) });
      }
    },
  });
  new Gauge({
    name: 'ctp_etl_bot_sync_interval_seconds',
    help: "The scheduler's bot-sync interval (SYNC_INTERVAL): a bot whose sync lag passes twice this is behind",
    registers: [registry],
  }).set(sources.config.SYNC_INTERVAL / 1000);
  for (const [name, help, field] of [
    ['ctp_etl_redis_memory_used_bytes', 'Memory Redis uses (INFO used_memory), per server', 'usedBytes'],
    [
      'ctp_etl_redis_memory_max_bytes',
      'Memory Redis may use (maxmemory; 0: no limit), per server; at the limit, under noeviction, every write is refused',
      'maxBytes',
    ],
  ] as const) {
    // Each gauge asks INFO itself: prom-client collects the gauges of a scrape concurrently.
    new Gauge({
      name,
      help,
      labelNames: ['node'],
      registers: [registry],
      async collect() {
        this.reset();
        try {
          for (const server of await withTimeout(redisMemory(sources.redis), METRICS_SOURCE_TIMEOUT_MS)) {
            this.set({ node: server.node }, server[field]);
          }
        } catch (error) {
          sources.logger.warn('metrics: Redis memory unavailable', { error: errorMessage(error) });
        }
      },
    });
  }
}

/**
 * `read`, shared by the callers that ask while it runs: the gauges of one scrape, collected
 * concurrently, get one read between them; a later scrape reads again.
 */
function sharedInFlight<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () =>
    (inFlight ??= read().finally(() => {
      inFlight = undefined;
    }));
}
