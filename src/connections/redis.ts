import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

/**
 * Workers block on Redis and must wait out outages (maxRetriesPerRequest: null, as BullMQ requires);
 * producers and the board fail fast instead of queueing commands while Redis is away.
 */
export type RedisRole = 'worker' | 'producer';

export function createRedis(config: Pick<Config, 'REDIS_URL'>, role: RedisRole): Redis {
  const redis = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy: (times) => Math.min(times * 200, 5000),
    lazyConnect: false,
  });
  redis.on('error', () => undefined); // reconnects on its own; errors surface on the commands
  return redis;
}

/** BullMQ loses jobs when Redis evicts keys: warn when maxmemory-policy is not noeviction. */
export async function warnUnlessNoEviction(redis: Redis, logger: Logger): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as unknown;
    const policy = Array.isArray(reply) ? String(reply[1]) : undefined;
    if (policy !== undefined && policy !== 'noeviction') {
      logger.warn(`Redis maxmemory-policy is "${policy}"; BullMQ needs "noeviction" or jobs can vanish`, { policy });
    }
    return policy;
  } catch {
    return undefined; // managed Redis may forbid CONFIG; nothing to check then
  }
}

/** Resolves once the connection is up; a fail-fast producer connection refuses commands before that. */
export async function redisReady(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
