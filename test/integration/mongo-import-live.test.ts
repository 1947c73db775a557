import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import type { Document } from 'mongodb';
import { enqueue } from '../../src/producers/enqueue.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { WorkerPool } from '../../src/workers/worker-pool.js';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { oid, snapshotDoc, userDoc, withoutDecimal128 } from '../../scripts/mongo/documents.js';
import {
  createMongoTestEnvironment,
  importCounts as counts,
  range,
  type ImportResult,
} from '../helpers/mongo-import.js';
import type { TestMongo } from '../helpers/test-mongo.js';
import type { TestEnvironment } from '../helpers/test-runtime.js';

describe('mongo-import from a live MongoDB (FerretDB)', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let mongo: TestMongo;

  const insert = (collection: string, docs: Document[]) =>
    mongo.db.collection(collection).insertMany(docs.map((doc) => withoutDecimal128(doc) as Document));
  const query = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await env.db.pool.query<T>(sql, params)).rows;
  const importLive = async (collection: string, options: { abortAfterBatches?: number } = {}) => {
    const ctx = recordingContext(env.runtime, options);
    return (await runJob('mongo-import', { collection }, ctx)) as ImportResult;
  };

  before(async () => {
    ({ env, mongo } = await createMongoTestEnvironment('mongo_import_live', {
      IMPORT_BATCH_SIZE: '10',
      IMPORT_MAX_REJECT_RATIO: '0.1',
      MONGO_SNAPSHOTS_COLLECTION: 'portfolioSnapshots',
    }));
    await insert('users', range(1, 20).map(userDoc));
    await insert(
      'portfolioSnapshots',
      range(1, 55).map((n) => snapshotDoc(n, 1 + (n % 20))),
    );
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    await mongo.cleanup({ keep: tracker.failed });
  });

  it('imports users then snapshots with one job on its queue (collection all)', async () => {
    const queues: Queues = createQueues(env.config, env.runtime.redis('producer'), ['mongo-import']);
    const events = new QueueEvents('mongo-import', {
      connection: env.runtime.redis('worker'),
      prefix: env.config.QUEUE_PREFIX,
    });
    const pool = new WorkerPool(env.runtime, env.runtime.redis('worker'), { queues: ['mongo-import'], concurrency: 1 });
    try {
      await events.waitUntilReady();
      pool.start();
      await pool.ready();
      const job = await enqueue(queues, 'mongo-import', { collection: 'all' });
      const result = (await job.waitUntilFinished(events, 60_000)) as {
        users: ImportResult;
        portfoliosnapshots: ImportResult;
      };
      assert.deepEqual(counts(result.users), { read: 20, inserted: 20, updated: 0, unchanged: 0, rejected: 0 });
      assert.deepEqual(counts(result.portfoliosnapshots), {
        read: 55,
        inserted: 55,
        updated: 0,
        unchanged: 0,
        rejected: 0,
      });
      const { logs } = await queues.get('mongo-import')!.getJobLogs(job.id!);
      assert.ok(
        logs.some((line) => /imported users from mongodb:.*20 read, 20 inserted/.test(line)),
        logs.join('\n'),
      );
      const progress = (await queues.get('mongo-import')!.getJob(job.id!))?.progress;
      assert.deepEqual(progress, { done: 55, total: 55 });
    } finally {
      await pool.stop();
      await events.close();
      await closeQueues(queues);
    }
    const [exact] = await query<{ total_value: string; user_mongo_id: string }>(
      `SELECT s.total_value::text, u.mongo_id AS user_mongo_id FROM portfolio_snapshots s JOIN users u ON u.id = s.user_id WHERE s.mongo_id = $1`,
      [oid('snapshot', 3).toHexString()],
    );
    assert.deepEqual(exact, { total_value: '9007199254740993', user_mongo_id: oid('user', 4).toHexString() });
  });

  it('a second run changes nothing', async () => {
    const users = await importLive('users');
    const snapshots = await importLive('portfoliosnapshots');
    assert.deepEqual(counts(users), { read: 20, inserted: 0, updated: 0, unchanged: 20, rejected: 0 });
    assert.deepEqual(counts(snapshots), { read: 55, inserted: 0, updated: 0, unchanged: 55, rejected: 0 });
  });

  it('picks up changed and new documents, and rejects an orphan snapshot', async () => {
    await mongo.db
      .collection('users')
      .updateOne({ _id: oid('user', 5) }, { $set: { name: 'Renamed', updatedAt: new Date(Date.UTC(2025, 0, 1)) } });
    await insert('users', [userDoc(21)]);
    await insert('portfolioSnapshots', [{ ...snapshotDoc(56, 21) }, { ...snapshotDoc(57, 1), userId: 'fb-ghost' }]);
    assert.deepEqual(counts(await importLive('users')), {
      read: 21,
      inserted: 1,
      updated: 1,
      unchanged: 19,
      rejected: 0,
    });
    const snapshots = await importLive('portfoliosnapshots');
    assert.deepEqual(counts(snapshots), { read: 57, inserted: 1, updated: 0, unchanged: 55, rejected: 1 });
    const [reject] = await query<{ position: string; reason: string }>(
      `SELECT position, reason FROM rejects WHERE collection = 'portfoliosnapshots'`,
    );
    assert.deepEqual(reject, {
      position: `_id ${oid('snapshot', 57).toHexString()}`,
      reason: `snapshot _id ${oid('snapshot', 57).toHexString()}: no user with firebase uid or _id fb-ghost (string)`,
    });
    const [renamed] = await query<{ name: string }>('SELECT name FROM users WHERE mongo_id = $1', [
      oid('user', 5).toHexString(),
    ]);
    assert.equal(renamed!.name, 'Renamed');
  });

  it('resumes a crashed live import after the last committed _id', async () => {
    await env.db.pool.query('TRUNCATE portfolio_snapshots');
    await assert.rejects(
      importLive('portfoliosnapshots', { abortAfterBatches: 2 }),
      /aborted after _id .*a retry resumes there/,
    );
    const [partial] = await query<{ n: number; last: string }>(
      'SELECT count(*)::int AS n, max(mongo_id) AS last FROM portfolio_snapshots',
    );
    assert.deepEqual(partial, { n: 20, last: oid('snapshot', 20).toHexString() });
    const retry = await importLive('portfoliosnapshots');
    assert.match(retry.startedAt, new RegExp(`after _id .*${oid('snapshot', 20).toHexString()}`));
    assert.deepEqual(counts(retry), { read: 57, inserted: 56, updated: 0, unchanged: 0, rejected: 1 });
    const [all] = await query<{ n: number; ids: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT mongo_id)::int AS ids FROM portfolio_snapshots',
    );
    assert.deepEqual(all, { n: 56, ids: 56 });
  });
});
