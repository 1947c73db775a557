import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { behindAfterSeconds, lagDistribution, type BotSyncLag } from '../../src/monitoring/bot-sync-lag.js';

const bot = (instance: string, lagSeconds: number, missing = false): BotSyncLag => ({
  instance,
  lagSeconds,
  lastSuccessAt: null,
  lastError: null,
  lastErrorAt: null,
  missingSince: missing ? new Date(0) : null,
});

describe('lag across bots', () => {
  it('takes nearest-rank quantiles of the bots on disk, and counts those past twice SYNC_INTERVAL', () => {
    // 20 bots lagging 1..20 s (in no order), and one gone from disk lagging an hour.
    const lags = [
      ...Array.from({ length: 20 }, (_, i) => bot(`bot-${i}`, ((i * 7) % 20) + 1)),
      bot('gone', 3600, true),
    ];
    assert.deepEqual(lagDistribution(lags, behindAfterSeconds(7_500)), {
      bots: 20,
      p50Seconds: 10,
      p95Seconds: 19,
      maxSeconds: 20,
      behind: 5, // 16..20 s, past 15 s
      behindAfterSeconds: 15,
    });
  });

  it('a lag equal to the threshold is not behind; no bot, no quantiles', () => {
    assert.equal(lagDistribution([bot('a', 600), bot('b', 600.1)], 600).behind, 1);
    assert.deepEqual(lagDistribution([bot('gone', 10, true)], 600), {
      bots: 0,
      p50Seconds: null,
      p95Seconds: null,
      maxSeconds: null,
      behind: 0,
      behindAfterSeconds: 600,
    });
  });
});
