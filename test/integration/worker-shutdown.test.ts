import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import { enqueue } from '../../src/producers/enqueue.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { cliEnv, startCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';

describe('worker process shutdown', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let queues: Queues;
  let events: QueueEvents;

  before(async () => {
    env = await createTestEnvironment('worker_shutdown');
    queues = createQueues(env.config, env.runtime.redis('producer'), ['echo']);
    events = new QueueEvents('echo', { connection: env.runtime.redis('worker'), prefix: env.config.QUEUE_PREFIX });
    await events.waitUntilReady();
  });

  after(async () => {
    await events.close();
    await closeQueues(queues);
    await env.cleanup({ keep: tracker.failed });
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

  it('hands a job back for retry when it outlasts SHUTDOWN_TIMEOUT, and another worker finishes it', async () => {
    const first = startCli(['worker', '--queues', 'echo'], cliEnv(env.config, { SHUTDOWN_TIMEOUT: '500ms' }));
    await first.waitForOutput(/workers ready/);
    const job = await enqueue(queues, 'echo', { message: 'too slow', durationMs: 5000 });
    await waitFor('the job to be active', async () => (await job.getState()) === 'active');

    first.child.kill('SIGTERM');
    await first.exited;
    assert.match(first.output(), /shutdown timeout reached; aborting running jobs/);
    const state = await job.getState();
    assert.ok(['delayed', 'waiting', 'wait'].includes(state), `job is back for a retry, not lost (state ${state})`);

    const second = startCli(['worker', '--queues', 'echo'], cliEnv(env.config));
    try {
      const result = await job.waitUntilFinished(events, 30_000);
      assert.deepEqual(result, { message: 'too slow', attempt: 2 });
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
