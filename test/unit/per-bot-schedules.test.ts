import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PerBotSchedules, perBotSchedule } from '../../src/producers/scheduler/desired-schedules.js';

describe('per-bot schedules kept from pass to pass', () => {
  it('gives an unchanged schedule back as is and builds a changed one anew', () => {
    const schedules = new PerBotSchedules();
    const first = schedules.get('bot-sync', 'bot-a', 60_000, 'sync bot-a');
    schedules.endPass();
    assert.equal(schedules.get('bot-sync', 'bot-a', 60_000, 'sync bot-a'), first);
    schedules.endPass();
    const slower = schedules.get('bot-sync', 'bot-a', 120_000, 'sync bot-a');
    assert.deepEqual(slower, perBotSchedule('bot-sync', 'bot-a', 120_000, 'sync bot-a'));
    schedules.endPass();
    const otherData = schedules.get('bot-sync', 'bot-a', 120_000, 'sync bot-a', { bot: 'bot-a', full: true });
    assert.deepEqual(otherData.data, { bot: 'bot-a', full: true });
  });

  it('forgets a bot not asked for in a pass', () => {
    const schedules = new PerBotSchedules();
    const first = schedules.get('bot-sync', 'bot-a', 60_000, 'sync bot-a');
    schedules.endPass();
    schedules.endPass();
    const again = schedules.get('bot-sync', 'bot-a', 60_000, 'sync bot-a');
    assert.notEqual(again, first);
    assert.deepEqual(again, first);
  });
});
