import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import { enqueue } from '../../src/producers/enqueue.js';
import { enqueueUserUpsert } from '../../src/producers/user-upsert.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { cliEnv, exitedWithin, startCli } from '../helpers/cli-process.js';
import { userDoc } from '../../scripts/mongo/documents.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { waitFor } from '../helpers/wait-for.js';

describe('worker process shutdown', () => {
  const env = suiteEnvironment('worker_shutdown');
  let queues: Queues;
  let events: QueueEvents;
  let upsertEvents: QueueEvents;

  before(async () => {
    queues = createQueues(env.config, env.runtime.redis('producer'), ['echo', 'user-upsert']);
    env.closeFirst(() => closeQueues(queues));
    events = new QueueEvents('echo', { connection: env.runtime.redis('worker'), prefix: env.config.QUEUE_PREFIX });
    upsertEvents = new QueueEvents('user-upsert', {
      connection: env.runtime.redis('worker'),
      prefix: env.config.QUEUE_PREFIX,
    });
    env.closeFirst(() => upsertEvents.close());
    env.closeFirst(() => events.close());
    await Promise.all([events.waitUntilReady(), upsertEvents.waitUntilReady()]);
  });

  it('lets an in-flight job finish on SIGTERM, then exits 0', async () => {
    const worker = startCli(['worker', '--queues', 'echo'], cliEnv(env.config, { SHUTDOWN_TIMEOUT: '20s' }));
    await worker.waitForOutput(/workers ready/);
    const job = await enqueue(queues, 'echo', { message: 'slow', durationMs: 2000 });
    await waitFor('the job to be active', async () => (await job.getState()) === 'active');

    worker.child.kill('SIGTERM');
    const result = await job.waitUntilFinished(events, 20_000);
    assert.deepEqual(result, { message: 'slow', attempt: 1 });
    const { code } = await worker.exited;
    assert.equal(code, 0, worker.output());
    assert.match(worker.output(), /SIGTERM received: shutting down/);
  });

  it('hands a job back without burning an attempt when it outlasts SHUTDOWN_TIMEOUT, and another worker finishes it', async () => {
    const first = startCli(['worker', '--queues', 'echo'], cliEnv(env.config, { SHUTDOWN_TIMEOUT: '500ms' }));
    await first.waitForOutput(/workers ready/);
    const job = await enqueue(queues, 'echo', { message: 'too slow', durationMs: 5000 });
    await waitFor('the job to be active', async () => (await job.getState()) === 'active');

    first.child.kill('SIGTERM');
    await first.exited;
    assert.match(first.output(), /shutdown timeout reached; handing running jobs back to the queue/);
    assert.equal(await job.getState(), 'waiting', 'the job is back in the queue, not lost and not failed');

    const second = startCli(['worker', '--queues', 'echo'], cliEnv(env.config));
    try {
      const result = await job.waitUntilFinished(events, 30_000);
      assert.deepEqual(result, { message: 'too slow', attempt: 1 });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('closes PostgreSQL only after the workers: no job fails because of the shutdown, and it keeps its timeout', async () => {
    const worker = startCli(
      ['worker', '--queues', 'user-upsert', '--concurrency', '4'],
      cliEnv(env.config, { SHUTDOWN_TIMEOUT: '1s', JOB_ATTEMPTS: '2' }),
    );
    await worker.waitForOutput(/workers ready/);
    // The first job opens the worker's PostgreSQL pool, after its workers started.
    const first = await enqueueUserUpsert(userDoc(1), { queues });
    await first.waitUntilFinished(upsertEvents, 20_000);

    // A long job: its write waits on a lock the test holds, past SHUTDOWN_TIMEOUT.
    const blocker = await env.db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE users IN EXCLUSIVE MODE');
      const long = await enqueueUserUpsert(userDoc(2), { queues });
      await waitFor('the long job to be active', async () => (await long.getState()) === 'active');

      const signalledAt = Date.now();
      worker.child.kill('SIGTERM');
      const later = await Promise.all([3, 4, 5].map((n) => enqueueUserUpsert(userDoc(n), { queues })));
      const { code } = await exitedWithin(worker, 15_000);
      const shutdownMs = Date.now() - signalledAt;
      assert.equal(code, 0, worker.output());
      assert.ok(shutdownMs < 1000 + 8000, `SIGTERM to exit took ${shutdownMs} ms on SHUTDOWN_TIMEOUT=1s`);
      assert.doesNotMatch(worker.output(), /Cannot use a pool/);

      for (const job of [long, ...later]) {
        const fresh = await queues.get('user-upsert')?.getJob(job.id ?? '');
        assert.equal(await fresh?.getState(), 'waiting', `job ${job.id} waits for the next worker`);
        assert.equal(fresh?.attemptsMade, 0, `job ${job.id} burned no attempt`);
      }
      await blocker.query('ROLLBACK');

      const second = startCli(['worker', '--queues', 'user-upsert'], cliEnv(env.config, { JOB_ATTEMPTS: '2' }));
      try {
        for (const job of [long, ...later]) await job.waitUntilFinished(upsertEvents, 30_000);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
      const { rows } = await env.db.pool.query<{ email: string }>('SELECT email FROM users ORDER BY email');
      assert.deepEqual(
        rows.map((row) => row.email),
        [1, 2, 3, 4, 5].map((n) => `user${n}@example.com`),
      );
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
    }
  });
});
