import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { QueueEvents } from 'bullmq';
import { enqueue } from '../../src/producers/enqueue.js';
import type { Queues } from '../../src/queues/queues.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

describe('queue and worker', () => {
  const env = suiteEnvironment('queue_worker', { JOB_ATTEMPTS: '3', JOB_BACKOFF: '200ms' });
  let queues: Queues;
  let events: QueueEvents;

  before(async () => {
    ({ queues, events } = await env.startQueueHarness('echo'));
  });

  it('runs a job enqueued through Redis and keeps its result, title and log', async () => {
    const job = await enqueue(queues, 'echo', { message: 'hello' });
    const result = await job.waitUntilFinished(events, 15_000);
    assert.deepEqual(result, { message: 'hello', attempt: 1 });
    assert.equal(job.name, 'echo hello');
    const { logs } = await queues.get('echo')!.getJobLogs(job.id!);
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /echo attempt 1: hello$/);
  });

  it('retries a failing job with growing backoff, then completes it', async () => {
    const job = await enqueue(queues, 'echo', { message: 'flaky', failAttempts: 2 });
    const result = await job.waitUntilFinished(events, 15_000);
    assert.deepEqual(result, { message: 'flaky', attempt: 3 });
    const done = await queues.get('echo')!.getJob(job.id!);
    assert.equal(done?.attemptsMade, 3);
    const { logs } = await queues.get('echo')!.getJobLogs(job.id!);
    const times = logs.map((line) => Date.parse(line.slice(0, 24)));
    // Backoff 200ms base, x2 per attempt, jitter 50%: the second wait is at least 200ms.
    assert.ok(times[2]! - times[1]! >= 200, `second retry waited ${times[2]! - times[1]!} ms`);
  });

  it('lands in failed with its error once the attempts are used up', async () => {
    const job = await enqueue(queues, 'echo', { message: 'doomed', failAttempts: 10 });
    await assert.rejects(job.waitUntilFinished(events, 15_000), /echo failing attempt 3 of the first 10 on purpose/);
    const failed = await queues.get('echo')!.getJob(job.id!);
    assert.equal(await failed?.getState(), 'failed');
    assert.equal(failed?.attemptsMade, 3);
    assert.match(failed?.failedReason ?? '', /attempt 3/);
    assert.ok((failed?.stacktrace?.length ?? 0) > 0, 'the stack is kept for the board');
  });

  it('does not retry a permanent failure or an invalid payload', async () => {
    const permanent = await enqueue(queues, 'echo', { message: 'no', permanentFailure: true });
    await assert.rejects(permanent.waitUntilFinished(events, 15_000), /echo refused "no" permanently/);
    assert.equal((await queues.get('echo')!.getJob(permanent.id!))?.attemptsMade, 1);

    // A payload of an older shape, added around the typed producer.
    const invalid = await queues.get('echo')!.add('echo old', { msg: 'old shape' });
    await assert.rejects(invalid.waitUntilFinished(events, 15_000), /Invalid echo payload: message:/);
    assert.equal((await queues.get('echo')!.getJob(invalid.id!))?.attemptsMade, 1);
  });

  it('refuses an invalid payload at the producer', async () => {
    await assert.rejects(enqueue(queues, 'echo', { message: 42 } as never), /Invalid echo payload: message/);
  });

  it('applies the retention policy to finished jobs', async () => {
    const job = await enqueue(queues, 'echo', { message: 'kept' });
    assert.deepEqual(job.opts.removeOnComplete, { age: 86_400, count: 1000 });
    assert.deepEqual(job.opts.removeOnFail, { age: 14 * 86_400 });
    assert.equal(job.opts.keepLogs, 200);
    await job.waitUntilFinished(events, 15_000);
  });
});
