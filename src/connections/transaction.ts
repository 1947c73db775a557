import pg from 'pg';
import type { PgPool } from './postgres.js';

/**
 * Runs `work` in one transaction: COMMIT when it returns, ROLLBACK when it throws (the error
 * is rethrown as it was). Given the pool, it checks a client out for the transaction and gives
 * it back, destroying it after a failure (the session may be gone or in an unknown state);
 * given a client, the caller keeps it (session state such as a lock held across transactions).
 * `commit: false` rolls back even when the work succeeds: a dry run reads what a run would write.
 */
export async function withTransaction<T>(
  db: PgPool | pg.PoolClient,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { commit?: boolean } = {},
): Promise<T> {
  const commit = options.commit ?? true;
  if (!(db instanceof pg.Pool)) return inTransaction(db, work, commit);
  const client = await db.connect();
  let failure: Error | undefined;
  try {
    return await inTransaction(client, work, commit);
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(failure);
  }
}

async function inTransaction<T>(
  client: pg.PoolClient,
  work: (client: pg.PoolClient) => Promise<T>,
  commit: boolean,
): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work(client);
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (error) {
    // A failed ROLLBACK means the session is broken, and the server rolls back when it goes:
    // the error worth reporting is the one that stopped the work.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
