import pg from 'pg';
import type { PgPool } from './postgres.js';

/**
 * Runs `work` in one transaction: COMMIT when it returns, ROLLBACK when it throws (the error
 * is rethrown as it was). Given the pool, it checks a client out for the transaction and gives
 * it back, destroying it after a failure (the session may be gone or in an unknown state);
 * given a client, the caller keeps it (session state such as a lock held across transactions).
 */
export async function withTransaction<T>(
  db: PgPool | pg.PoolClient,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  if (!(db instanceof pg.Pool)) return inTransaction(db, work);
  const client = await db.connect();
  let failure: Error | undefined;
  try {
    return await inTransaction(client, work);
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(failure);
  }
}

async function inTransaction<T>(client: pg.PoolClient, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A failed ROLLBACK means the session is broken, and the server rolls back when it goes:
    // the error worth reporting is the one that stopped the work.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
