import { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { connectMongo, type MongoHandle } from '../connections/mongo.js';
import { createPgPool, type PgPool } from '../connections/postgres.js';
import { createRedis, redisReady, redisTarget, type RedisConnection, type RedisRole } from '../connections/redis.js';
import { Closers } from '../lifecycle/closers.js';
import { createLogger, type Logger } from '../logger.js';
import { ErrorEvents } from '../monitoring/error-events.js';
import type { SharedResources } from '../workers/job-context.js';

/**
 * The connections one process shares between its roles, opened on demand and each
 * registering its closer as it opens.
 */
export class Runtime implements SharedResources {
  readonly logger: Logger;
  readonly closers: Closers;
  /** This process's Prometheus metrics: served on /metrics by the board, or WORKER_METRICS_PORT. */
  readonly metrics = new Registry();
  /** Connection and queue `error` events: counted in /metrics by source, logged rate-limited. */
  readonly errors: ErrorEvents;
  private pgPool: PgPool | undefined;
  private mongoHandle: Promise<MongoHandle> | undefined;

  constructor(
    readonly config: Config,
    logger?: Logger,
  ) {
    this.logger = logger ?? createLogger(config.LOG_LEVEL);
    this.closers = new Closers(this.logger);
    this.errors = new ErrorEvents(this.logger, this.metrics);
  }

  get pg(): PgPool {
    if (!this.pgPool) {
      const pool = createPgPool(this.config, this.errors.listener('postgres'));
      this.closers.add('postgres pool', () => pool.end(), { stage: 'connection' });
      this.pgPool = pool;
    }
    return this.pgPool;
  }

  readonly mongo = (): Promise<MongoHandle> => {
    const url = this.config.MONGO_URL;
    if (url === undefined) {
      return Promise.reject(
        new Error('MONGO_URL is not set: set it to read a live MongoDB, or import from a mongoexport --file'),
      );
    }
    if (!this.mongoHandle) {
      const connecting = connectMongo(url);
      this.mongoHandle = connecting;
      // A connection that never opened has nothing to close.
      this.closers.add('mongo client', async () => (await connecting.catch(() => undefined))?.client.close(), {
        stage: 'connection',
      });
      connecting.catch(() => {
        this.mongoHandle = undefined; // let the next call try again
      });
    }
    return this.mongoHandle;
  };

  redis(role: RedisRole): RedisConnection {
    const redis = createRedis(
      this.config,
      role,
      this.errors.listener('redis', { redis: redisTarget(this.config), role }),
    );
    this.closers.add(
      `redis (${role})`,
      async () => {
        if (redis.status === 'end') return;
        // QUIT waits in the offline queue while Redis is away: drop such a connection at once.
        if (redis.status !== 'ready') return redis.disconnect();
        await redis.quit().catch(() => redis.disconnect());
      },
      { stage: 'connection' },
    );
    return redis;
  }

  /**
   * A connection for a command that needs Redis now (`status`, `enqueue`, `scheduler --once`): it
   * fails within REDIS_CONNECT_TIMEOUT naming the Redis it tried, rather than wait without end.
   */
  async readyRedis(role: RedisRole): Promise<RedisConnection> {
    const redis = this.redis(role);
    await redisReady(redis, this.config.REDIS_CONNECT_TIMEOUT, redisTarget(this.config));
    return redis;
  }

  close(): Promise<void> {
    return this.closers.closeAll();
  }
}
