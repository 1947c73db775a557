import { Gauge, type Registry } from 'prom-client';
import type { PgPool } from '../connections/postgres.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Queues } from '../queues/queues.js';
import { botSyncLag } from './bot-sync-lag.js';
import { queueDepths } from './queue-depths.js';

/**
 * The shared state behind /metrics, read from Redis and PostgreSQL on each scrape (so every
 * board replica reports the same values): jobs per queue and state, and per-bot sync lag.
 * A source that does not answer leaves its gauge empty for that scrape rather than failing
 * the whole scrape; /health says which one is down.
 */
export function registerBoardMetrics(
  registry: Registry,
  sources: { queues: Queues; pg: PgPool; logger: Logger },
): void {
  new Gauge({
    name: 'ctp_etl_queue_jobs',
    help: 'Jobs per queue and state (waiting, active, delayed, completed, failed, ...)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const { queue, counts } of await queueDepths(sources.queues)) {
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
        for (const bot of await botSyncLag(sources.pg)) {
          if (bot.missingSince === null) this.set({ instance: bot.instance }, bot.lagSeconds);
        }
      } catch (error) {
        sources.logger.warn('metrics: bot sync lag unavailable', { error: errorMessage(error) });
      }
    },
  });
}
