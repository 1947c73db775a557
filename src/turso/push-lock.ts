import { releaseSessionLock, tryTakeSessionLock } from '../connections/advisory-locks.js';
import type { PgPool } from '../connections/postgres.js';

export class PushLockedError extends Error {
  constructor(instance: string) {
    super(`bot ${instance}: another turso-push of this bot is running; this one will retry`);
    this.name = 'PushLockedError';
  }
}

/**
 * Runs `work` holding a PostgreSQL session advisory lock for the bot, so two pushes of one bot
 * never interleave, even on different workers; a crashed worker's session releases it.
 * Busy means a transient failure: the job retries with backoff.
 */
export async function withPushLock<T>(pool: PgPool, instance: string, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    if (!(await tryTakeSessionLock(client, 'turso-push', instance))) throw new PushLockedError(instance);
    try {
      return await work();
    } finally {
      await releaseSessionLock(client, 'turso-push', instance);
    }
  } finally {
    client.release();
  }
}
