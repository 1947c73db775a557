import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ADVISORY_LOCKS,
  releaseSessionLock,
  takeTransactionLock,
  tryTakeSessionLock,
} from '../../src/connections/advisory-locks.js';
import { withTransaction } from '../../src/connections/transaction.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { testConfig, uniqueName } from '../helpers/test-config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('withTransaction and the advisory locks', () => {
  const config = testConfig(uniqueName('transaction'));
  let db: TestDatabase;
  const tracker = failureTracker();

  before(async () => {
    db = await createTestDatabase(config, { migrate: false });
    await db.pool.query('CREATE TABLE notes (id int PRIMARY KEY)');
  });
  after(async () => {
    if (tracker.failed) await db.close();
    else await db.drop();
  });

  const ids = async () =>
    (await db.pool.query<{ id: number }>('SELECT id FROM notes ORDER BY id')).rows.map((r) => r.id);

  it('commits what the work wrote and returns its result', async () => {
    const result = await withTransaction(db.pool, async (client) => {
      await client.query('INSERT INTO notes VALUES (1), (2)');
      return 'written';
    });
    assert.equal(result, 'written');
    assert.deepEqual(await ids(), [1, 2]);
  });

  it('rolls back when the work throws, rethrows its error and destroys the client', async () => {
    const failure = new Error('the work failed');
    await assert.rejects(
      withTransaction(db.pool, async (client) => {
        await client.query('INSERT INTO notes VALUES (3)');
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.deepEqual(await ids(), [1, 2]);
    assert.equal(db.pool.totalCount - db.pool.idleCount, 0, 'no client left checked out');
  });

  it("on a caller's client: rolls back one transaction and leaves the client usable", async () => {
    const client = await db.pool.connect();
    try {
      await assert.rejects(
        withTransaction(client, async (tx) => {
          await tx.query('INSERT INTO notes VALUES (4)');
          await tx.query('INSERT INTO notes VALUES (4)');
        }),
        (error: Error & { code?: string }) => error.code === '23505',
      );
      await withTransaction(client, (tx) => tx.query('INSERT INTO notes VALUES (5)'));
    } finally {
      client.release();
    }
    assert.deepEqual(await ids(), [1, 2, 5]);
  });

  it('gives every lock a class of its own', () => {
    const classes = Object.values(ADVISORY_LOCKS);
    assert.equal(new Set(classes).size, classes.length);
    for (const id of classes) assert.ok(Number.isInteger(id) && id > 0 && id < 2 ** 31, `${id} is a positive int4`);
  });

  it('lets one session hold a lock: a second is refused until the first releases it', async () => {
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      assert.equal(await tryTakeSessionLock(first, 'turso-push', 'bot-a'), true);
      assert.equal(await tryTakeSessionLock(second, 'turso-push', 'bot-a'), false);
      assert.equal(await tryTakeSessionLock(second, 'turso-push', 'bot-b'), true, 'another resource is free');
      assert.equal(await tryTakeSessionLock(second, 'import-source', 'bot-a'), true, 'another class is free');
      await releaseSessionLock(first, 'turso-push', 'bot-a');
      assert.equal(await tryTakeSessionLock(second, 'turso-push', 'bot-a'), true);
    } finally {
      await second.query('SELECT pg_advisory_unlock_all()');
      first.release();
      second.release();
    }
  });

  it('holds a transaction lock until the transaction ends, under its class in pg_locks', async () => {
    const heldBy = async (pid: number) =>
      (
        await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND pid = $2 AND granted`,
          [ADVISORY_LOCKS['bot-sync'], pid],
        )
      ).rows[0]?.n;
    const client = await db.pool.connect();
    try {
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await withTransaction(client, async (tx) => {
        await takeTransactionLock(tx, 'bot-sync', '42');
        assert.equal(await heldBy(pid), 1);
      });
      assert.equal(await heldBy(pid), 0);
    } finally {
      client.release();
    }
  });
});
