import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Document } from 'mongodb';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { oid, userDoc, withoutDecimal128 } from '../../scripts/mongo/documents.js';
import { createMongoTestEnvironment, type UserReconcileResult } from '../helpers/mongo-import.js';
import type { TestMongo } from '../helpers/test-mongo.js';
import type { TestEnvironment } from '../helpers/test-runtime.js';

describe('user-reconcile: re-import users changed since the last run', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let mongo: TestMongo;
  const reconcile = async () =>
    (await runJob('user-reconcile', { overlapMs: 0 }, recordingContext(env.runtime))) as UserReconcileResult;

  before(async () => {
    ({ env, mongo } = await createMongoTestEnvironment('user_reconcile'));
    await mongo.db.collection('users').insertMany([1, 2, 3].map((n) => withoutDecimal128(userDoc(n)) as Document));
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    await mongo.cleanup({ keep: tracker.failed });
  });

  it('reads every user the first time, then only those changed since', async () => {
    const first = await reconcile();
    assert.deepEqual(
      { read: first.read, inserted: first.inserted, since: first.since },
      { read: 3, inserted: 3, since: null },
    );
    // A write that reached MongoDB but whose user-upsert job was never enqueued.
    await mongo.db
      .collection('users')
      .updateOne({ _id: oid('user', 2) }, { $set: { name: 'Missed', updatedAt: new Date(Date.now() + 1000) } });
    const second = await reconcile();
    // User 3 holds the latest updatedAt the first run read, where the second starts: read again, unchanged.
    assert.deepEqual(
      { read: second.read, updated: second.updated, inserted: second.inserted, unchanged: second.unchanged },
      { read: 2, updated: 1, inserted: 0, unchanged: 1 },
    );
    assert.ok(second.since !== null);
    const { rows } = await env.db.pool.query<{ name: string }>('SELECT name FROM users WHERE mongo_id = $1', [
      oid('user', 2).toHexString(),
    ]);
    assert.equal(rows[0]?.name, 'Missed');
  });
});

describe('user-reconcile: emails that move between users', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let mongo: TestMongo;
  const reconcile = async () =>
    (await runJob('user-reconcile', { overlapMs: 0 }, recordingContext(env.runtime))) as UserReconcileResult;
  const users = () => mongo.db.collection('users');
  /** A user document written now (this host's clock is the platform's here). */
  const user = (n: number, email: string, updatedAt = new Date()): Document => ({
    _id: oid('user', n),
    email,
    createdAt: new Date('2024-01-01T00:00:00Z'),
    updatedAt,
  });
  const setEmail = (n: number, email: string) =>
    users().updateOne({ _id: oid('user', n) }, { $set: { email, updatedAt: new Date() } });
  const emails = async (...ns: number[]) =>
    (
      await env.db.pool.query<{ mongo_id: string; email: string }>(
        'SELECT mongo_id, email FROM users WHERE mongo_id = ANY($1) ORDER BY mongo_id',
        [ns.map((n) => oid('user', n).toHexString())],
      )
    ).rows.map((row) => row.email);

  before(async () => {
    ({ env, mongo } = await createMongoTestEnvironment('user_reconcile_moves'));
    const earlier = new Date(Date.now() - 60_000);
    await users().insertMany([10, 20, 21].map((n, i) => user(n, ['a', 'c', 'd'][i] + '@example.com', earlier)));
    await reconcile();
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    await mongo.cleanup({ keep: tracker.failed });
  });

  it('moves an address: A leaves a@ for a.new@ while B signs up with a@, both in one run', async () => {
    await setEmail(10, 'a.new@example.com');
    await users().insertOne(user(11, 'a@example.com'));
    const result = await reconcile();
    assert.deepEqual(
      { inserted: result.inserted, updated: result.updated, rejected: result.rejected },
      { inserted: 1, updated: 1, rejected: 0 },
    );
    assert.deepEqual(await emails(10, 11), ['a.new@example.com', 'a@example.com']);
  });

  it('swaps the addresses of two users', async () => {
    await setEmail(20, 'd@example.com');
    await setEmail(21, 'C@example.com');
    const result = await reconcile();
    assert.deepEqual({ updated: result.updated, rejected: result.rejected }, { updated: 2, rejected: 0 });
    assert.deepEqual(await emails(20, 21), ['d@example.com', 'C@example.com']);
  });

  it('rejects the second of two users ending on one address, then imports it once the first leaves it', async () => {
    await users().insertMany([user(30, 'x@example.com'), user(31, 'X@example.com')]);
    const first = await reconcile();
    assert.deepEqual({ inserted: first.inserted, rejected: first.rejected }, { inserted: 1, rejected: 1 });
    const { rows: rejects } = await env.db.pool.query<{ position: string; reason: string }>(
      `SELECT position, reason FROM rejects WHERE source = 'user-reconcile'`,
    );
    const [e, f] = [oid('user', 30).toHexString(), oid('user', 31).toHexString()];
    assert.deepEqual(rejects, [
      {
        position: `_id ${f}`,
        reason:
          `email X@example.com is already used by user _id ${e} as x@example.com, so user _id ${f} cannot have it ` +
          '(emails are unique whatever their case)',
      },
    ]);
    assert.deepEqual(await emails(30, 31), ['x@example.com']);

    // The rejected user is not changed again: only the first one is. It is read again all the same.
    await setEmail(30, 'x.new@example.com');
    const second = await reconcile();
    assert.deepEqual(
      { parked: second.parked, inserted: second.inserted, updated: second.updated, rejected: second.rejected },
      { parked: 1, inserted: 1, updated: 1, rejected: 0 },
    );
    assert.deepEqual(await emails(30, 31), ['x.new@example.com', 'X@example.com']);
    const third = await reconcile();
    assert.deepEqual(
      { parked: third.parked, inserted: third.inserted, updated: third.updated, rejected: third.rejected },
      { parked: 0, inserted: 0, updated: 0, rejected: 0 },
    );
  });
});

describe('user-reconcile: a platform clock behind this host', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let mongo: TestMongo;
  const reconcile = async () =>
    (await runJob('user-reconcile', { overlapMs: 0 }, recordingContext(env.runtime))) as UserReconcileResult;
  // Every updatedAt the platform writes is 3 minutes behind this host's clock.
  const behind = Date.now() - 180_000;

  before(async () => {
    ({ env, mongo } = await createMongoTestEnvironment('user_reconcile_clock'));
    await mongo.db
      .collection('users')
      .insertMany(
        [1, 2].map((n) => ({ _id: oid('user', n), email: `u${n}@example.com`, updatedAt: new Date(behind) })),
      );
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    await mongo.cleanup({ keep: tracker.failed });
  });

  it('reads a rename made between runs although its updatedAt is before this host’s time of the last run', async () => {
    assert.equal((await reconcile()).inserted, 2);
    const name = async () =>
      (
        await env.db.pool.query<{ name: string | null }>('SELECT name FROM users WHERE mongo_id = $1', [
          oid('user', 2).toHexString(),
        ])
      ).rows[0]?.name;
    // Run 2 reads from the latest updatedAt run 1 read (user 1 is at it too), run 3 from run 2's rename.
    for (const [run, renamed, read, since] of [
      [2, 'Renamed once', 2, behind],
      [3, 'Renamed twice', 1, behind + 2000],
    ] as const) {
      await mongo.db
        .collection('users')
        .updateOne({ _id: oid('user', 2) }, { $set: { name: renamed, updatedAt: new Date(behind + run * 1000) } });
      const result = await reconcile();
      assert.deepEqual(
        { run, read: result.read, updated: result.updated, since: result.since },
        { run, read, updated: 1, since: new Date(since).toISOString() },
      );
      assert.equal(await name(), renamed);
    }
  });
  it('does not let a date far ahead of this host move where the next run starts', async () => {
    const users = mongo.db.collection('users');
    await users.insertOne({
      _id: oid('user', 3),
      email: 'u3@example.com',
      updatedAt: new Date('2099-01-01T00:00:00Z'),
    });
    assert.equal((await reconcile()).inserted, 1);
    await users.updateOne({ _id: oid('user', 1) }, { $set: { name: 'Renamed', updatedAt: new Date(behind + 4000) } });
    const result = await reconcile();
    assert.deepEqual(
      { updated: result.updated, since: result.since },
      { updated: 1, since: new Date(behind + 3000).toISOString() },
    );
  });
});
