import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { datesScanInterval, datesScanSince, type DatesScanMemory } from '../../src/bots/dates-scan.js';

const MINUTE = 60_000;
const config = { SYNC_DATE_SCAN_ROWS: 0, SYNC_DATE_SCAN_INTERVAL: 5 * MINUTE, SYNC_WINDOW_MARGIN: MINUTE };

/** A bot whose last date scan and last run were at `at`. */
function memory(at: Date): DatesScanMemory {
  return {
    datesScan: { at, highWater: at },
    window: { at, highWater: at, fullAt: at, schema: 'schema' },
  };
}

describe("a bot's date scans", () => {
  it('come at most SYNC_DATE_SCAN_INTERVAL apart, at most a quarter sooner, each bot at its own interval', () => {
    const intervals = Array.from({ length: 1_000 }, (_, i) => datesScanInterval(`bot-${i}`, 5 * MINUTE));
    assert.ok(Math.max(...intervals) <= 5 * MINUTE, 'never later than the interval');
    assert.ok(Math.min(...intervals) >= 3.75 * MINUTE, 'at most a quarter sooner');
    // Spread: a thousand bots first synced together scan over the interval's last quarter, not at once.
    const seconds = new Set(intervals.map((ms) => Math.floor(ms / 1000)));
    assert.ok(seconds.size >= 60, `${seconds.size} distinct seconds among 1,000 bots`);
    assert.equal(datesScanInterval('bot-7', 5 * MINUTE), intervals[7], 'stable from run to run');
  });

  it("scans when the bot's own interval has passed, from the last scan less the margin", () => {
    const last = new Date('2026-12-08T10:00:00Z');
    const own = datesScanInterval('bot-a', config.SYNC_DATE_SCAN_INTERVAL);
    const since = new Date(last.getTime() + own - MINUTE);
    const before = new Date(last.getTime() + own - 1);
    const after = new Date(last.getTime() + own);
    assert.equal(datesScanSince('bot-a', memory(last), 5_000, before, config, since), undefined);
    assert.deepEqual(
      datesScanSince('bot-a', memory(last), 5_000, after, config, since),
      new Date(last.getTime() - MINUTE),
    );
    assert.deepEqual(
      datesScanSince('bot-a', memory(last), 5_000, before, { ...config, SYNC_DATE_SCAN_ROWS: 5_000 }, since),
      new Date(last.getTime() - MINUTE),
      'a bot of at most SYNC_DATE_SCAN_ROWS rows scans on every run',
    );
  });
});
