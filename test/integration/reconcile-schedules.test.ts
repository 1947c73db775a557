import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { perBotSchedule } from '../../src/producers/scheduler/desired-schedules.js';
import { reconcileSchedules } from '../../src/producers/scheduler/reconcile-schedules.js';
import { defaultJobOptions } from '../../src/queues/job-options.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

describe('reconcileSchedules: schedules read and compared a page at a time', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let queues: Queues;
  const PAGE = 3;
  const EVERY = 60_000;
  const desiredFor = (bots: readonly string[], every = EVERY) =>
    bots.map((bot) => perBotSchedule({ queue: 'bot-sync', bot, every, title: `sync ${bot}` }));
  const bots = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => `bot-${String(from + i).padStart(2, '0')}`);

  before(async () => {
    env = await createTestEnvironment('reconcile_schedules');
    queues = createQueues(env.config, env.runtime.redis('worker'), ['bot-sync']);
  });

  after(async () => {
    await closeQueues(queues);
    await env.cleanup({ keep: tracker.failed });
  });

  async function stored(): Promise<Array<{ key: string; every: number | undefined; data: unknown }>> {
    const list = await queues.get('bot-sync')!.getJobSchedulers(0, -1, true);
    return list
      .map((s) => ({ key: s.key, every: s.every, data: s.template?.data }))
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  const reconcile = (desired: ReturnType<typeof desiredFor>) =>
    reconcileSchedules(queues, ['bot-sync'], desired, defaultJobOptions(env.config), PAGE);

  it('creates, keeps, updates and removes across more than one page', async () => {
    assert.deepEqual(await reconcile(desiredFor(bots(0, 10))), { created: 10, updated: 0, removed: 0, kept: 0 });
    assert.deepEqual(await reconcile(desiredFor(bots(0, 10))), { created: 0, updated: 0, removed: 0, kept: 10 });
    const nextRuns = new Map((await queues.get('bot-sync')!.getJobSchedulers(0, -1, true)).map((s) => [s.key, s.next]));

    // bots 00-03 gone from disk, 10-12 new, 04-05 with a new interval, 06-09 unchanged
    const desired = [...desiredFor(bots(4, 6), 2 * EVERY), ...desiredFor(bots(6, 13))];
    assert.deepEqual(await reconcile(desired), { created: 3, updated: 2, removed: 4, kept: 4 });
    const after = await stored();
    assert.deepEqual(
      after.map((s) => s.key),
      bots(4, 13).map((bot) => `bot-sync:${bot}`),
    );
    assert.deepEqual(
      after.map((s) => s.every),
      [2 * EVERY, 2 * EVERY, ...Array<number>(7).fill(EVERY)],
    );
    assert.deepEqual(after[0]!.data, { bot: 'bot-04' });
    const kept = await queues.get('bot-sync')!.getJobSchedulers(0, -1, true);
    for (const bot of bots(6, 10)) {
      const next = kept.find((s) => s.key === `bot-sync:${bot}`)?.next;
      assert.equal(next, nextRuns.get(`bot-sync:${bot}`), `${bot}'s unchanged schedule is not rewritten`);
    }
  });

  it('removes every schedule when no bot is left', async () => {
    const result = await reconcile([]);
    assert.equal(result.removed, 9);
    assert.deepEqual(await stored(), []);
  });
});
