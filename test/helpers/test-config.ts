import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config.js';

/** A unique, lower-case name for this test file's schema and BullMQ prefix. */
export function uniqueName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 30);
  return `t_${clean}_${randomBytes(4).toString('hex')}`;
}

/** The test services' Redis Cluster (scripts/redis-cluster.sh prints these seeds). */
export const TEST_REDIS_CLUSTER_NODES =
  process.env.TEST_REDIS_CLUSTER_NODES ?? '127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102';

/** Overrides that put a test on the Redis Cluster; its prefix becomes a hash tag (`{name}`). */
export const onRedisCluster = (): Record<string, string> => ({ REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES });

export const TEST_MONGO_URL = process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017/';

/**
 * Config for a test: the real local services, a schema and queue prefix of the test's own,
 * quiet logs and short timings. `overrides` are environment variables, validated as in production.
 */
export function testConfig(name: string, overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    PG_SCHEMA: name,
    // A cluster needs every key of a queue in one slot: the prefix is a hash tag there.
    QUEUE_PREFIX: overrides.REDIS_CLUSTER_NODES ? `{${name}}` : name,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JOB_BACKOFF: '100ms',
    JOB_STALLED_INTERVAL: '5s',
    JOB_LOCK_DURATION: '5s',
    SHUTDOWN_TIMEOUT: '5s',
    BOARD_AUTH: 'false',
    ...overrides,
  });
}
