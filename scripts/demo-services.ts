/**
 * `npm run demo`'s first step: do PostgreSQL and Redis answer? If not, one line says which one,
 * at which URL (credentials masked), why, and how to start it or point elsewhere; exit 1, no
 * stack trace.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { maskUrlCredentials } from '../src/secrets.js';

const config = (() => {
  try {
    return loadConfig();
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    process.exit(1);
  }
})();
const reason = (error: unknown): string =>
  maskUrlCredentials(error instanceof Error ? error.message || error.name : String(error));

async function postgresProblem(): Promise<string | null> {
  const client = new pg.Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return reason(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function redisProblem(): Promise<string | null> {
  const redis = new Redis(config.REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return reason(error);
  } finally {
    redis.disconnect();
  }
}

const [postgres, redis] = await Promise.all([postgresProblem(), redisProblem()]);
const problems: string[] = [];
if (postgres)
  problems.push(
    `demo: PostgreSQL does not answer at ${maskUrlCredentials(config.DATABASE_URL)} (${postgres}).\n` +
      "  Start it (`docker compose up -d postgres`, or your system's PostgreSQL service), or point DATABASE_URL at a running one.",
  );
if (redis)
  problems.push(
    `demo: Redis does not answer at ${maskUrlCredentials(config.REDIS_URL)} (${redis}).\n` +
      '  Start it (`docker compose up -d redis`, or `redis-server --daemonize yes`), or point REDIS_URL at a running one.',
  );
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
