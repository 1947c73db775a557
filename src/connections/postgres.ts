import pg from 'pg';
import type { Config } from '../config.js';
import { unobservedErrors } from './connection-errors.js';

export type PgPool = pg.Pool;

/**
 * A pool whose sessions run in UTC (FreqTrade's naive dates are UTC) with `search_path`
 * set to PG_SCHEMA, so one database can hold several isolated installs or test runs.
 */
export function createPgPool(
  config: Pick<Config, 'DATABASE_URL' | 'PG_SCHEMA' | 'PG_POOL_MAX'>,
  onError: (error: unknown) => void = unobservedErrors('postgres'),
): PgPool {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    options: `-c search_path=${config.PG_SCHEMA} -c TimeZone=UTC`,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: 'ctp-etl',
  });
  // A client losing its server must not crash the process: an idle one is dropped by the pool
  // (pool 'error'), a checked-out one fails its queries (client 'error' would otherwise be unhandled).
  // `onError` gets both (the runtime counts and logs them); without one they go to stderr, rate-limited.
  // Every client error reaches the client's listener; the pool re-emits an idle client's one,
  // already reported there.
  pool.on('connect', (client) => client.on('error', onError));
  pool.on('error', () => undefined);
  return pool;
}
