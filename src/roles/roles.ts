import type { Server } from 'node:http';
import {
  redisReady,
  redisTarget,
  warnUnlessNoEviction,
  type RedisConnection,
  type RedisRole,
} from '../connections/redis.js';
import { errorMessage } from '../errors.js';
import { createHttpApp } from '../http/http-app.js';
import { JOB_NAMES, type JobName } from '../jobs/contracts.js';
import { migrate } from '../migrate/migrate.js';
import { openQueues } from '../queues/queues.js';
import type { Runtime } from '../runtime/runtime.js';
import { registerBoardMetrics } from '../monitoring/board-metrics.js';
import { JobMetrics } from '../monitoring/job-metrics.js';
import { watcherRunningGauge } from '../monitoring/watcher-metrics.js';
import { WorkerPool } from '../workers/worker-pool.js';
import { botDatabases } from '../bot-sync/bot-database-cache.js';
import { HostDiscovery } from '../bots/host-discovery.js';
import { Scheduler } from '../producers/scheduler/scheduler.js';
import { scheduleSources } from '../producers/scheduler/schedule-sources.js';
import { createMetricsApp } from '../http/metrics.js';
import type { Express } from 'express';
import { ChangeWatcher } from '../producers/watcher/change-watcher.js';
import { allQueueNames, queueNameFor } from '../queues/host-routing.js';

/** The long-running roles, each registering its own closers on the runtime. */

/**
 * Runs a role's start; if any step fails, closes what the earlier steps started (workers hand
 * their jobs back, schedulers stop, connections close) before the error goes on to exit 1, so no
 * job is left active to stall.
 */
export async function startOrClose(runtime: Runtime, start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (error) {
    runtime.logger.error('start failed; closing what already started', { err: error });
    await runtime.close().catch(() => undefined); // each closer logs its own failure
    throw error;
  }
}

export async function prepareProcess(runtime: Runtime): Promise<void> {
  if (runtime.config.MIGRATE_ON_START) await migrate(runtime.pg, runtime.config.PG_SCHEMA);
}

export async function startWorkers(
  runtime: Runtime,
  queues: readonly JobName[],
  concurrency: number,
): Promise<WorkerPool> {
  const connection = runtime.redis('worker');
  await warnUnlessNoEviction(connection, runtime.logger);
  const host = runtime.config.WORKER_HOST;
  if (host !== undefined) {
    // This host's bots are recorded before its workers take jobs, and kept current.
    const discovery = new HostDiscovery(runtime.config, runtime.pg, host, runtime.logger);
    await discovery.start();
    runtime.closers.add('host discovery', () => discovery.stop());
  }
  const pool = new WorkerPool(runtime, connection, {
    queues,
    concurrency,
    metrics: new JobMetrics(runtime.metrics),
    onError: runtime.errors.listener('worker'),
  });
  // Closers run in reverse: the workers stop before the bot databases they kept open close.
  runtime.closers.add('bot databases', () => botDatabases.closeAll());
  runtime.closers.add('workers', () => pool.stop(), { timeoutMs: pool.stopBoundMs + 1_000 });
  pool.start();
  await pool.ready();
  runtime.logger.info('workers ready', { queues, concurrency });
  return pool;
}

export async function startBoard(runtime: Runtime, port: number): Promise<Server> {
  const connection = runtime.redis('producer');
  // With hosts, each host's queues too (the hosts known at start), so a retry reaches its host.
  const queues = openQueues(runtime, connection, await allQueueNames(runtime.config, runtime.pg), 'board queues');
  registerBoardMetrics(runtime.metrics, {
    queues,
    pg: runtime.pg,
    redis: connection,
    logger: runtime.logger,
    config: runtime.config,
  });
  const app = createHttpApp({
    config: runtime.config,
    queues,
    health: { pg: runtime.pg, redis: connection, ...(runtime.config.MONGO_URL ? { mongo: runtime.mongo } : {}) },
    metrics: runtime.metrics,
  });
  const server = await serve(runtime, app, port, 'http server');
  runtime.logger.info('board listening', { port: listeningPort(server, port), path: '/admin/queues' });
  return server;
}

/**
 * A worker or watch process's own /metrics (job durations, rows written, error events, the
 * watcher's state), for Prometheus to scrape.
 */
export async function startWorkerMetrics(
  runtime: Runtime,
  port: number,
  role: 'worker' | 'watch' = 'worker',
): Promise<Server> {
  const server = await serve(runtime, createMetricsApp(runtime.metrics), port, 'metrics server');
  runtime.logger.info(`${role} metrics listening`, { port: listeningPort(server, port), path: '/metrics' });
  return server;
}

async function serve(runtime: Runtime, app: Express, port: number, what: string): Promise<Server> {
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(port, '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  runtime.closers.add(what, () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections(); // keep-alive sockets of past scrapes would hold close() open
    return closed;
  });
  return server;
}

/**
 * `once`: a command, so an unreachable Redis fails it within REDIS_CONNECT_TIMEOUT; otherwise a
 * long-running role, which waits for Redis and warns at each REDIS_CONNECT_TIMEOUT that passes.
 */
export async function createScheduler(runtime: Runtime, options: { once?: boolean } = {}): Promise<Scheduler> {
  const connection = options.once ? await runtime.readyRedis('producer') : await waitForRedis(runtime, 'producer');
  // Closers run in reverse: the scheduler stops before its queues close.
  const queues = openQueues(runtime, connection, JOB_NAMES, 'scheduler queues');
  const sources = scheduleSources(runtime.config, runtime.logger);
  const scheduler = new Scheduler({
    config: runtime.config,
    pg: runtime.pg,
    redis: connection,
    queues,
    logger: runtime.logger,
    onQueueError: runtime.errors.listener('queue'),
    sources,
  });
  runtime.closers.add('scheduler', () => scheduler.stop());
  return scheduler;
}

async function waitForRedis(runtime: Runtime, role: RedisRole): Promise<RedisConnection> {
  const connection = runtime.redis(role);
  const target = redisTarget(runtime.config);
  for (;;) {
    try {
      await redisReady(connection, runtime.config.REDIS_CONNECT_TIMEOUT, target);
      return connection;
    } catch (error) {
      if (connection.status === 'end') throw error; // closed by shutdown
      runtime.logger.warn(`${errorMessage(error)}; still trying`, { redis: target });
    }
  }
}

function listeningPort(server: Server, fallback: number): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : fallback;
}

/** Why this process has no change watcher to run, or undefined when it has one. */
export function watcherUnavailable(config: Runtime['config']): string | undefined {
  if (config.WATCH_MODE === 'off') return 'WATCH_MODE=off';
  if (config.BOT_DISCOVERY === 'hosts' && config.WORKER_HOST === undefined) {
    return "BOT_DISCOVERY=hosts and no WORKER_HOST: the watcher runs on a host that mounts the bot folders and enqueues on that host's queues; set WORKER_HOST to the host's name (as its workers have it)";
  }
  return undefined;
}

/**
 * The change watcher: its bot folders' writes become deduplicated bot-sync and turso-push jobs,
 * on this host's queues with WORKER_HOST. Resolves once every bot is watched.
 */
export async function startWatcher(runtime: Runtime): Promise<ChangeWatcher> {
  const { config, logger } = runtime;
  const unavailable = watcherUnavailable(config);
  if (unavailable !== undefined) throw new Error(`the change watcher cannot run: ${unavailable}`);
  const host = config.WORKER_HOST;
  const running = watcherRunningGauge(runtime.metrics);
  // Closers run in reverse: the watcher stops (and enqueues what it saw) before its queues close.
  const queues = openQueues(
    runtime,
    runtime.redis('producer'),
    [queueNameFor('bot-sync', host), queueNameFor('turso-push', host)],
    'watcher queues',
  );
  const watcher = new ChangeWatcher({
    config,
    queues,
    pg: runtime.pg,
    logger,
    onError: runtime.errors.listener('watcher'),
  });
  runtime.closers.add('watcher', async () => {
    running.set(0);
    await watcher.stop();
    logger.info('watcher stopped', { ...watcher.counts });
  });
  const { bots, unreadable } = await watcher.start();
  running.set(1);
  logger.info('watcher ready', {
    bots,
    unreadable,
    mode: config.WATCH_MODE,
    debounceMs: config.WATCH_DEBOUNCE,
    ...(config.WATCH_MODE === 'poll' ? { pollIntervalMs: config.WATCH_POLL_INTERVAL } : {}),
    ...(host !== undefined ? { host } : {}),
  });
  return watcher;
}
