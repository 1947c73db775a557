import { once } from 'node:events';
import type { RedisConnection } from '../connections/redis.js';
import type { MongoHandle } from '../connections/mongo.js';
import type { PgPool } from '../connections/postgres.js';
import { withTimeout } from '../lifecycle/deadlines.js';
import { errorMessage } from '../errors.js';

export interface DependencyHealth {
  status: 'ok' | 'down';
  required: boolean;
  latencyMs: number;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'degraded' | 'down';
  checkedAt: string;
  dependencies: Record<string, DependencyHealth>;
}

export interface HealthDependencies {
  pg: PgPool;
  redis: RedisConnection;
  mongo?: () => Promise<MongoHandle>;
  timeoutMs?: number;
}

/** Pings each dependency with a deadline. Required ones down make the report "down" (HTTP 503). */
export async function checkHealth(deps: HealthDependencies): Promise<HealthReport> {
  const timeoutMs = deps.timeoutMs ?? 2000;
  const checks: Array<[string, boolean, () => Promise<unknown>]> = [
    ['postgres', true, () => deps.pg.query('SELECT 1')],
    ['redis', true, () => pingRedis(deps.redis)],
  ];
  const { mongo } = deps;
  if (mongo) checks.push(['mongodb', false, async () => (await mongo()).db.command({ ping: 1 })]);

  const results = await Promise.all(
    checks.map(async ([name, required, ping]): Promise<[string, DependencyHealth]> => {
      const started = performance.now();
      try {
        await withTimeout(ping(), timeoutMs);
        return [name, { status: 'ok', required, latencyMs: elapsed(started) }];
      } catch (error) {
        return [name, { status: 'down', required, latencyMs: elapsed(started), error: errorMessage(error) }];
      }
    }),
  );
  const dependencies = Object.fromEntries(results);
  const down = results.filter(([, health]) => health.status === 'down');
  const status = down.some(([, health]) => health.required) ? 'down' : down.length > 0 ? 'degraded' : 'ok';
  return { status, checkedAt: new Date().toISOString(), dependencies };
}

/**
 * The board's Redis connection fails fast (no offline queue), so a probe arriving while it is
 * still making its first connection would read "down": wait for that connection first.
 */
async function pingRedis(redis: RedisConnection): Promise<unknown> {
  if (redis.status === 'connecting' || redis.status === 'connect') await once(redis, 'ready');
  return redis.ping();
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
