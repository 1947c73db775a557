import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Document } from 'mongodb';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { oid, userDoc } from '../helpers/mongo-docs.js';
import { createMongoTestEnvironment, type UserReconcileResult } from '../helpers/mongo-import.js';
import { withoutDecimal128, type TestMongo } from '../helpers/test-mongo.js';
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
    assert.deepEqual(
      { read: second.read, updated: second.updated, inserted: second.inserted },
      { read: 1, updated: 1, inserted: 0 },
    );
    assert.ok(second.since !== null);
    const { rows } = await env.db.pool.query<{ name: string }>('SELECT name FROM users WHERE mongo_id = $1', [
      oid('user', 2).toHexString(),
    ]);
    assert.equal(rows[0]?.name, 'Missed');
  });
});
