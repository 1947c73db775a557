import type { PgPool } from '../../connections/postgres.js';

/** Advisory lock class of turso-push (first key), so it never collides with other jobs' locks. */
const TURSO_PUSH_LOCK_CLASS = 0x7475_7273; // "turs"

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
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
      [TURSO_PUSH_LOCK_CLASS, instance],
    );
    if (!rows[0]?.locked) throw new PushLockedError(instance);
    try {
      return await work();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [TURSO_PUSH_LOCK_CLASS, instance]);
    }
  } finally {
    client.release();
  }
}
