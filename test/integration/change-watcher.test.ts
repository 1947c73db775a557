import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { ChangeWatcher, WatchFolderError } from '../../src/producers/watcher/change-watcher.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { cliEnv, exitedWithin, runCli, startCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath, createFreqtradeDb, insertTrades } from '../../scripts/freqtrade/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testConfig } from '../helpers/test-config.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';

/** One write transaction as FreqTrade makes them while a trade is open (WAL, its own connection). */
function tradeUpdater(file: string): { write: (n: number) => void; close: () => void } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const update = db.prepare('UPDATE trades SET stop_loss = ?, max_rate = ? WHERE id = 1');
  return { write: (n) => void update.run(100 + n / 1000, 200 + n), close: () => db.close() };
}

describe('change watcher', { timeout: 180_000 }, () => {
  const tracker = failureTracker();
  const dir = tempDir('watcher');
  let env: TestEnvironment;
  let queues: Queues;
  const running: ChangeWatcher[] = [];
  let folder = 0;
  const errors: unknown[] = [];

  /** A fresh BOT_INSTANCES_DIR with the given bots (pushing enabled unless listed in `noPush`). */
  function botsFolder(bots: readonly string[], noPush: readonly string[] = []): string {
    const root = path.join(dir.path, `bots-${folder++}`);
    mkdirSync(root, { recursive: true });
    for (const [i, bot] of bots.entries()) {
      createFreqtradeDb(botDbPath(root, bot), { trades: 5, seed: i + 1, wal: true });
      writeFileSync(
        path.join(root, bot, 'sync-config.json'),
        JSON.stringify({ tursoUrl: `file:${bot}.db`, tursoToken: 't', enabled: !noPush.includes(bot) }),
      );
    }
    return root;
  }

  function configFor(root: string, overrides: Record<string, string> = {}): Config {
    return testConfig(env.name, { BOT_INSTANCES_DIR: root, WATCH_DEBOUNCE: '300ms', ...overrides });
  }

  async function startWatcher(config: Config): Promise<ChangeWatcher> {
    const watcher = new ChangeWatcher({
      config,
      queues,
      pg: env.db.pool,
      logger: createLogger('silent'),
      onError: (error) => errors.push(error),
    });
    running.push(watcher);
    await watcher.start();
    return watcher;
  }

  const jobNames = async (queue: 'bot-sync' | 'turso-push'): Promise<string[]> =>
    (await queues.get(queue)!.getJobs(['waiting', 'active', 'delayed'])).map((job) => job.name).sort();

  before(async () => {
    env = await createTestEnvironment('watcher');
    queues = createQueues(env.config, env.runtime.redis('producer'), ['bot-sync', 'turso-push']);
  });

  beforeEach(async () => {
    await Promise.all(running.splice(0).map((watcher) => watcher.stop()));
    for (const queue of queues.values()) await queue.obliterate({ force: true });
  });

  after(async () => {
    await Promise.all(running.map((watcher) => watcher.stop()));
    assert.deepEqual(errors, [], 'no watcher error in any test');
    await closeQueues(queues);
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('turns a burst of 1,000 writes into a handful of jobs: one waiting bot-sync and turso-push per bot', async () => {
    const root = botsFolder(['burst', 'no-push'], ['no-push']);
    const watcher = await startWatcher(configFor(root));
    const burst = tradeUpdater(botDbPath(root, 'burst'));
    const other = tradeUpdater(botDbPath(root, 'no-push'));
    try {
      // 1,000 commits over a few seconds: longer than the 2 s a burst may wait, so syncs start during it.
      for (let n = 0; n < 1000; n++) {
        burst.write(n);
        if (n % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
      }
      other.write(1);
    } finally {
      burst.close();
      other.close();
    }
    await waitFor('the watcher to enqueue both bots and go idle', async () => {
      const names = await jobNames('bot-sync');
      return names.length === 2 && watcher.idle;
    });
    assert.deepEqual(await jobNames('bot-sync'), ['bot-sync burst', 'bot-sync no-push']);
    assert.deepEqual(await jobNames('turso-push'), ['turso-push burst'], 'no push for a bot whose config disables it');
    assert.ok(watcher.counts.syncs >= 2, 'the burst bot was enqueued during its burst, not only after it');
    assert.ok(watcher.counts.syncs <= 20, `a handful of enqueues, not one per write (${watcher.counts.syncs})`);
  });

  it('picks up a bot folder created while it runs', async () => {
    const root = botsFolder(['old']);
    await startWatcher(configFor(root));
    createFreqtradeDb(botDbPath(root, 'newcomer'), { trades: 5, seed: 9, wal: true });
    await waitFor('a bot-sync of the new bot', async () => (await jobNames('bot-sync')).includes('bot-sync newcomer'));
    const writer = tradeUpdater(botDbPath(root, 'newcomer'));
    writer.write(1);
    writer.close();
    await waitFor('the watcher idle', () => running[0]!.idle);
    assert.deepEqual(await jobNames('bot-sync'), ['bot-sync newcomer'], 'the old bot, unchanged, has no job');
  });

  it('falls back to stat polling (WATCH_MODE=poll), new folders included', async () => {
    const root = botsFolder(['polled']);
    const watcher = await startWatcher(configFor(root, { WATCH_MODE: 'poll', WATCH_POLL_INTERVAL: '100ms' }));
    const writer = tradeUpdater(botDbPath(root, 'polled'));
    writer.write(1);
    writer.close();
    await waitFor('a bot-sync of the polled bot', async () => (await jobNames('bot-sync')).includes('bot-sync polled'));
    createFreqtradeDb(botDbPath(root, 'polled-new'), { trades: 5, seed: 3, wal: true });
    await waitFor('a bot-sync of the new polled bot', async () =>
      (await jobNames('bot-sync')).includes('bot-sync polled-new'),
    );
    assert.ok(watcher.counts.writes >= 2);
  });

  it('refuses a BOT_INSTANCES_DIR that is missing or not a folder, naming it', async () => {
    const missing = path.join(dir.path, 'no-such-folder');
    await assert.rejects(startWatcher(configFor(missing)), (error: unknown) => {
      assert.ok(error instanceof WatchFolderError);
      assert.match(error.message, new RegExp(`BOT_INSTANCES_DIR ${missing} does not exist`));
      return true;
    });
    const file = path.join(dir.path, 'a-file');
    writeFileSync(file, 'not a folder');
    await assert.rejects(startWatcher(configFor(file)), /BOT_INSTANCES_DIR .*a-file is not a folder/);
    const cli = await runCli(['watch'], cliEnv(env.config, { BOT_INSTANCES_DIR: missing, LOG_LEVEL: 'error' }));
    assert.equal(cli.code, 1);
    assert.match(cli.output, new RegExp(`ctp-etl: BOT_INSTANCES_DIR ${missing} does not exist`));
  });

  it('refuses to watch with BOT_DISCOVERY=hosts and no WORKER_HOST, saying what to set', async () => {
    const root = botsFolder([]);
    const cli = await runCli(['watch'], cliEnv(env.config, { BOT_INSTANCES_DIR: root, BOT_DISCOVERY: 'hosts' }));
    assert.equal(cli.code, 1);
    assert.match(cli.output, /the change watcher cannot run: BOT_DISCOVERY=hosts and no WORKER_HOST.*set WORKER_HOST/);
  });

  it('`ctp-etl watch` names an unreadable bot folder, watches the others, and stops cleanly on SIGTERM', async () => {
    const root = botsFolder(['readable', 'locked']);
    // Root reads every folder: the watcher then runs as another user, who cannot read the locked one.
    const asRoot = process.getuid?.() === 0;
    chmodSync(dir.path, 0o755);
    chmodSync(root, 0o755);
    chmodSync(path.join(root, 'locked'), asRoot ? 0o700 : 0o000);
    const watch = startCli(
      ['watch'],
      cliEnv(env.config, { BOT_INSTANCES_DIR: root, WATCH_DEBOUNCE: '300ms', SHUTDOWN_TIMEOUT: '5s' }),
      asRoot ? { uid: 65534, gid: 65534 } : {},
    );
    try {
      await watch.waitForOutput(/"msg":"watcher ready"/, 60_000);
      assert.match(
        watch.output(),
        new RegExp(
          `bot locked: ${path.join(root, 'locked')} cannot be read \\(EACCES\\), so its changes are not watched`,
        ),
      );
      const writer = tradeUpdater(botDbPath(root, 'readable'));
      writer.write(1);
      writer.close();
      await waitFor('a bot-sync of the readable bot', async () =>
        (await jobNames('bot-sync')).includes('bot-sync readable'),
      );
      watch.child.kill('SIGTERM');
      const { code } = await exitedWithin(watch, 20_000);
      assert.equal(code, 0, watch.output());
      assert.match(watch.output(), /"msg":"watcher stopped"/);
    } finally {
      watch.child.kill('SIGKILL');
      chmodSync(path.join(root, 'locked'), 0o755);
    }
  });

  it('`ctp-etl start` runs the watcher: a new trade reaches PostgreSQL and Turso without waiting for the schedule', async () => {
    const root = botsFolder(['live']);
    const targets = path.join(dir.path, 'targets');
    mkdirSync(targets, { recursive: true });
    const app = startCli(
      ['start', '--port', '0', '--concurrency', '1'],
      // Schedules an hour apart: only the watcher can bring the trade over within this test.
      cliEnv(env.config, {
        BOT_INSTANCES_DIR: root,
        TURSO_FILE_DIR: targets,
        SYNC_INTERVAL: '1h',
        TURSO_PUSH_INTERVAL: '1h',
        WATCH_DEBOUNCE: '300ms',
        MIGRATE_ON_START: 'true',
      }),
    );
    try {
      await app.waitForOutput(/"msg":"watcher ready"/, 60_000);
      const writer = new Database(botDbPath(root, 'live'));
      insertTrades(writer, 6, 1, 2, 7);
      writer.close();
      const synced = await waitFor(
        'trade 6 of bot live in PostgreSQL',
        async () => {
          const { rows } = await env.db.pool.query<{ trade_id: number }>(
            `SELECT t.trade_id FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id
             WHERE b.instance_id = 'live' ORDER BY t.trade_id`,
          );
          return rows.length === 6 && rows.map((r) => r.trade_id);
        },
        60_000,
        100,
      );
      assert.deepEqual(synced, [1, 2, 3, 4, 5, 6]);
      const pushed = await waitFor(
        'trade 6 in the Turso copy',
        () => {
          const file = path.join(targets, 'live.db');
          if (!existsSync(file)) return false;
          const copy = new Database(file, { readonly: true });
          try {
            const ids = copy.prepare<[], { id: number }>('SELECT id FROM trades ORDER BY id').all();
            return ids.length === 6 && ids.map((r) => r.id);
          } catch {
            return false; // the first push has not created the table yet
          } finally {
            copy.close();
          }
        },
        60_000,
        100,
      );
      assert.deepEqual(pushed, [1, 2, 3, 4, 5, 6]);
      app.child.kill('SIGTERM');
      assert.equal((await exitedWithin(app, 30_000)).code, 0, app.output());
      assert.match(app.output(), /^(?=.*"msg":"watcher stopped")(?=.*"syncs":[1-9]).*$/m, 'the watcher enqueued it');
    } finally {
      app.child.kill('SIGKILL');
    }
  });
});
