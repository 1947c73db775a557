import type pg from 'pg';

/**
 * Every PostgreSQL advisory lock ctp-etl takes, in one keying scheme: the two-int form
 * `(class, hashtext(resource))`, the class naming what is locked. A class is never reused for
 * another purpose, and changing one means old and new processes no longer exclude each other
 * during a rolling deploy: stop the old ones first.
 */
export const ADVISORY_LOCKS = {
  /** One bot's sync (transaction lock; resource: bots.id). A second run waits up to SYNC_LOCK_TIMEOUT. */
  'bot-sync': 0x5f0b07,
  /** One bot's Turso push (session lock; resource: instance name). A second push retries later. */
  'turso-push': 0x7475_7273, // "turs"
  /** One import source (session lock; resource: the checkpoint key). A second import retries later. */
  'import-source': 0x696d_7074, // "impt"
  /** Migrating one schema (session lock; resource: the schema name). Concurrent starts take turns. */
  migrations: 0x6d69_6772, // "migr"
  /** An email or firebase uid a users batch moves or contests (transaction lock; resource: `email:<key>`, `uid:<uid>`). */
  'user-address': 0x7573_6164, // "usad"
} as const;

export type AdvisoryLock = keyof typeof ADVISORY_LOCKS;

/** The lock's two keys as query parameters `$1` (class) and `$2` (resource, hashed by hashtext). */
function keys(lock: AdvisoryLock, resource: string): [number, string] {
  return [ADVISORY_LOCKS[lock], resource];
}

/** Waits for the lock, held until this transaction ends (the client must be in one). */
export async function takeTransactionLock(client: pg.ClientBase, lock: AdvisoryLock, resource: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', keys(lock, resource));
}

/** Takes the lock if it is free, held until this transaction ends; false when another holds it. */
export async function tryTakeTransactionLock(
  client: pg.ClientBase,
  lock: AdvisoryLock,
  resource: string,
): Promise<boolean> {
  const { rows } = await client.query<{ taken: boolean }>(
    'SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS taken',
    keys(lock, resource),
  );
  return rows[0]?.taken === true;
}

/**
 * Waits for several locks of one class, held until this transaction ends, taken in one order
 * (of their hashed keys) so two transactions locking overlapping sets cannot wait for each other.
 */
export async function takeTransactionLocks(
  client: pg.ClientBase,
  lock: AdvisoryLock,
  resources: readonly string[],
): Promise<void> {
  if (resources.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock($1, h)
       FROM (SELECT DISTINCT hashtext(r) AS h FROM unnest($2::text[]) AS r ORDER BY h) ordered`,
    [ADVISORY_LOCKS[lock], resources],
  );
}

/** Waits for the lock, held by this session until released (or the session ends). */
export async function takeSessionLock(client: pg.ClientBase, lock: AdvisoryLock, resource: string): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', keys(lock, resource));
}

/** Takes the session lock if it is free; false when another session holds it. */
export async function tryTakeSessionLock(
  client: pg.ClientBase,
  lock: AdvisoryLock,
  resource: string,
): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
    keys(lock, resource),
  );
  return rows[0]?.locked === true;
}

/**
 * Waits for the session lock by trying it every `intervalMs`. Unlike pg_advisory_lock, the
 * waiting session holds no snapshot between tries, so a holder running CREATE INDEX CONCURRENTLY
 * (which waits for every older snapshot in the database) never waits for its own waiter.
 */
export async function pollSessionLock(
  client: pg.ClientBase,
  lock: AdvisoryLock,
  resource: string,
  intervalMs = 200,
): Promise<void> {
  while (!(await tryTakeSessionLock(client, lock, resource))) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function releaseSessionLock(client: pg.ClientBase, lock: AdvisoryLock, resource: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', keys(lock, resource));
}
