import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { checkInotifyWatchLimit, InotifyLimitError, watchesNeeded } from '../../src/producers/watcher/inotify-limit.js';
import { SyncDebouncer } from '../../src/producers/watcher/sync-debouncer.js';

describe('the inotify watch limit check', () => {
  it('refuses a limit below what the bots need, saying what to raise and to what', () => {
    const warnings: string[] = [];
    assert.throws(
      () => checkInotifyWatchLimit(10_000, 8192, (message) => warnings.push(message)),
      (error: unknown) => {
        assert.ok(error instanceof InotifyLimitError);
        assert.match(error.message, /fs\.inotify\.max_user_watches is 8192, but watching 10000 bots needs about 40001/);
        assert.match(error.message, /sysctl -w fs\.inotify\.max_user_watches=524288/);
        assert.match(error.message, /or set WATCH_MODE=poll/);
        return true;
      },
    );
    assert.deepEqual(warnings, []);
  });

  it('warns when little is left for new bots, and is quiet with room to spare or no limit to read', () => {
    const warnings: string[] = [];
    checkInotifyWatchLimit(10_000, watchesNeeded(10_000) + 10, (message) => warnings.push(message));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /leaving little for new bots/);
    checkInotifyWatchLimit(10_000, 524_288, (message) => warnings.push(message));
    checkInotifyWatchLimit(10_000, undefined, (message) => warnings.push(message));
    assert.equal(warnings.length, 1);
  });
});

describe('the per-bot debounce', () => {
  it('fires once writes settle, at most 2 s into a burst, and once per bot', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      const fired: Array<[string, number]> = [];
      const debouncer = new SyncDebouncer(500, (bot) => fired.push([bot, Date.now()]));
      // A bot writing every 100 ms for 3 s, and another writing once.
      for (let t = 0; t <= 3000; t += 100) {
        if (t > 0) mock.timers.tick(100);
        debouncer.touch('busy');
        if (t === 200) debouncer.touch('calm');
      }
      for (let i = 0; i < 10; i++) mock.timers.tick(100);
      assert.deepEqual(fired, [
        ['calm', 700],
        ['busy', 2000],
        ['busy', 3500],
      ]);
      assert.equal(debouncer.waiting, 0);
    } finally {
      mock.timers.reset();
    }
  });

  it('fires what is waiting when flushed (at shutdown)', () => {
    const fired: string[] = [];
    const debouncer = new SyncDebouncer(60_000, (bot) => fired.push(bot));
    debouncer.touch('a');
    debouncer.touch('b');
    debouncer.flush();
    assert.deepEqual(fired.sort(), ['a', 'b']);
    assert.equal(debouncer.waiting, 0);
  });
});
