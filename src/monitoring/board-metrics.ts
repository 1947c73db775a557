import { Gauge, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { heldBots } from '../bots/held-bots.js';
import { errorMessage } from '../errors.js';
import { withTimeout } from '../lifecycle/deadlines.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues/queues.js';
import { botSyncLag } from './bot-sync-lag.js';
import { queueDepths } from './queue-depths.js';

/** How long a scrape waits for Redis or PostgreSQL before it answers without their gauges. */
const METRICS_SOURCE_TIMEOUT_MS = 2_000;

/**
 * The shared state behind /metrics, read from Redis and PostgreSQL on each scrape (so every
 * board replica reports the same values): jobs per queue and state, and per-bot sync lag.
 * A source that does not answer leaves its gauge empty for that scrape rather than failing
 * the whole scrape (and a source that hangs, as BullMQ does while Redis is down, is given up after
 * METRICS_SOURCE_TIMEOUT_MS); /health says which one is down.
 */
export function registerBoardMetrics(
  registry: Registry,
  sources: { queues: Queues; pg: PgPool; logger: Logger; config: Pick<Config, 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL'> },
): void {
  new Gauge({
    name: 'ctp_etl_queue_jobs',
    help: 'Jobs per queue and state (waiting, active, delayed, completed, failed, ...)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const { queue, counts } of await withTimeout(queueDepths(sources.queues), METRICS_SOURCE_TIMEOUT_MS)) {
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
        for (const bot of await withTimeout(botSyncLag(sources.pg), METRICS_SOURCE_TIMEOUT_MS)) {
          if (bot.missingSince === null) this.set({ instance: bot.instance }, bot.lagSeconds);
        }
      } catch (error) {
        sources.logger.warn('metrics: bot sync lag unavailable', { error: errorMessage(error) });
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
}
