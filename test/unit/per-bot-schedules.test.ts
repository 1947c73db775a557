import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PerBotSchedules, perBotSchedule } from '../../src/producers/scheduler/desired-schedules.js';

describe('per-bot schedules kept from pass to pass', () => {
  it('gives an unchanged schedule back as is and builds a changed one anew', () => {
    const schedules = new PerBotSchedules();
    const first = schedules.get({ queue: 'bot-sync', bot: 'bot-a', every: 60_000, title: 'sync bot-a' });
    schedules.endPass();
    assert.equal(schedules.get({ queue: 'bot-sync', bot: 'bot-a', every: 60_000, title: 'sync bot-a' }), first);
    schedules.endPass();
    const slower = schedules.get({ queue: 'bot-sync', bot: 'bot-a', every: 120_000, title: 'sync bot-a' });
    assert.deepEqual(slower, perBotSchedule({ queue: 'bot-sync', bot: 'bot-a', every: 120_000, title: 'sync bot-a' }));
    schedules.endPass();
    const otherData = schedules.get({
      queue: 'bot-sync',
      bot: 'bot-a',
      every: 120_000,
      title: 'sync bot-a',
      data: { bot: 'bot-a', full: true },
    });
    assert.deepEqual(otherData.data, { bot: 'bot-a', full: true });
  });

  it('forgets a bot not asked for in a pass', () => {
    const schedules = new PerBotSchedules();
    const first = schedules.get({ queue: 'bot-sync', bot: 'bot-a', every: 60_000, title: 'sync bot-a' });
    schedules.endPass();
    schedules.endPass();
    const again = schedules.get({ queue: 'bot-sync', bot: 'bot-a', every: 60_000, title: 'sync bot-a' });
    assert.notEqual(again, first);
    assert.deepEqual(again, first);
  });
});
