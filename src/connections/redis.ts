import { Cluster, Redis } from 'ioredis';
import type { ClusterSeed, Config } from '../config.js';
import type { Logger } from '../logger.js';
import { unobservedErrors } from './connection-errors.js';
import { maskUrlCredentials } from '../secrets.js';

/**
 * Workers block on Redis and must wait out outages (maxRetriesPerRequest: null, as BullMQ requires);
 * producers and the board fail fast instead of queueing commands while Redis is away.
 */
export type RedisRole = 'worker' | 'producer';

/** One Redis, or a Redis Cluster when REDIS_CLUSTER_NODES is set; BullMQ takes either. */
export type RedisConnection = Redis | Cluster;

/**
 * `onError` gets the connection's `error` events (it reconnects on its own; the errors also surface
 * on the commands): the runtime counts and logs them. Without one they go to stderr, rate-limited.
 */
export function createRedis(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>,
  role: RedisRole,
  onError: (error: unknown) => void = unobservedErrors('redis'),
): RedisConnection {
  if (config.REDIS_CLUSTER_NODES !== undefined) return createCluster(config.REDIS_CLUSTER_NODES, role, onError);
  const redis = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    retryStrategy: (times) => Math.min(times * 200, 5000),
    lazyConnect: false,
  });
  redis.on('error', onError);
  return redis;
}

/**
 * The same roles on a cluster. While a primary fails over, its slots answer CLUSTERDOWN or
 * MOVED for a few seconds: workers retry until the replica has taken over, producers fail fast.
 * Seeds' credentials and TLS apply to every node the cluster reports.
 */
function createCluster(seeds: readonly ClusterSeed[], role: RedisRole, onError: (error: unknown) => void): Cluster {
  const [first] = seeds;
  const cluster = new Cluster(
    seeds.map(({ host, port }) => ({ host, port })),
    {
      redisOptions: {
        maxRetriesPerRequest: role === 'worker' ? null : 1,
        ...(first?.username ? { username: first.username } : {}),
        ...(first?.password ? { password: first.password } : {}),
        ...(first?.tls ? { tls: {} } : {}),
      },
      enableOfflineQueue: role === 'worker',
      clusterRetryStrategy: (times) => Math.min(times * 200, 5000),
      retryDelayOnFailover: 300,
      retryDelayOnClusterDown: 300,
      // Managed clusters behind TLS name nodes by host names their certificates are issued for.
      ...(first?.tls
        ? { dnsLookup: (address: string, done: (error: null, address: string) => void) => done(null, address) }
        : {}),
    },
  );
  cluster.on('error', onError);
  return cluster;
}

/** BullMQ loses jobs when Redis evicts keys: warn when maxmemory-policy is not noeviction (on every primary of a cluster). */
export async function warnUnlessNoEviction(redis: RedisConnection, logger: Logger): Promise<string | undefined> {
  if (redis instanceof Cluster) {
    await redisReady(redis).catch(() => undefined);
    const policies = await Promise.all(redis.nodes('master').map((node) => warnUnlessNoEviction(node, logger)));
    return policies.find((policy) => policy !== 'noeviction') ?? policies[0];
  }
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

/** The Redis a config points at, for messages: its URL with user info masked, or the cluster's seeds. */
export function redisTarget(config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): string {
  if (config.REDIS_CLUSTER_NODES === undefined) return maskUrlCredentials(config.REDIS_URL);
  return `Redis Cluster ${config.REDIS_CLUSTER_NODES.map(({ host, port }) => `${host}:${port}`).join(',')}`;
}

/**
 * Resolves once the connection is up; a fail-fast producer connection refuses commands before that
 * (and BullMQ waits for it without end). Rejects after `timeoutMs`, naming `target` and the last
 * connection error.
 */
export async function redisReady(redis: RedisConnection, timeoutMs = 10_000, target = 'Redis'): Promise<void> {
  if (redis.status === 'ready') return;
  let lastError: unknown;
  const onError = (error: unknown): void => {
    lastError = error;
  };
  redis.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        redis.off('ready', onReady);
        const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
        reject(new Error(`Cannot reach ${target} within ${timeoutMs} ms${reason}`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      redis.once('ready', onReady);
    });
  } finally {
    redis.off('error', onError);
  }
}
