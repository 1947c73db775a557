import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { cliEnv, exitedWithin, listeningPort, runCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A bot whose database was replaced keeps trading while bot-sync and turso-push refuse it. Its
 * refusal is recorded once (held): the watcher's writes and the scheduler's ticks enqueue nothing
 * more for it, so Redis holds no more failed jobs over time, until the operator accepts the reset
 * or another file takes its place.
 */
describe('a held bot: refused once, not on every write', { timeout: 5 * 60_000 }, () => {
  const tracker = failureTracker();
  const dir = tempDir('held');
  const root = path.join(dir.path, 'bots');
  const targets = path.join(dir.path, 'targets');
  let env: TestEnvironment;
  let app: CliProcess;
  let boardPort: number;
  let queues: Queues;
  let redis: Redis;
  const settings = {
    BOT_INSTANCES_DIR: root,
    TURSO_FILE_DIR: targets,
    SYNC_INTERVAL: '2s',
    TURSO_PUSH_INTERVAL: '2s',
    DISCOVERY_INTERVAL: '1s',
    WATCH_DEBOUNCE: '200ms',
    LOG_LEVEL: 'silent',
  };

  const trades = async (bot: string): Promise<number> => {
    const { rows } = await env.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1`,
      [bot],
    );
    return rows[0]!.n;
  };
  const holds = async (bot: string): Promise<string[]> => {
    const { rows } = await env.db.pool.query<{ hold: string }>(
      `SELECT job || ' ' || reason AS hold FROM bot_holds WHERE instance_id = $1 ORDER BY job`,
      [bot],
    );
    return rows.map((r) => r.hold);
  };
  /** What Redis holds for this run: failed jobs per queue, and keys under its prefix. */
  const footprint = async (): Promise<{ failedSyncs: number; failedPushes: number; keys: Set<string> }> => {
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${env.config.QUEUE_PREFIX}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of found) keys.add(key);
    } while (cursor !== '0');
    return {
      failedSyncs: await queues.get('bot-sync')!.getFailedCount(),
      failedPushes: await queues.get('turso-push')!.getFailedCount(),
      keys,
    };
  };
  /** A fresh database put in the bot's place (a new file, as a FreqTrade reset makes). */
  const replace = (bot: string, source: (file: string) => void) => {
    const file = botDbPath(root, bot);
    source(`${file}.new`);
    renameSync(`${file}.new`, file);
  };
  /** One write as FreqTrade makes them while a trade is open. */
  const write = (bot: string, n: number) => {
    const db = new Database(botDbPath(root, bot));
    try {
      db.prepare('UPDATE trades SET stop_loss = ?, max_rate = ? WHERE id = 1').run(100 + n / 1000, 200 + n);
    } finally {
      db.close();
    }
  };

  /** A bot of 40 trades whose pushes are enabled. */
  const newBot = (bot: string, seed: number) => {
    createFreqtradeDb(botDbPath(root, bot), { trades: 40, seed });
    writeFileSync(
      path.join(root, bot, 'sync-config.json'),
      JSON.stringify({ tursoUrl: `file:${bot}.db`, tursoToken: 't', enabled: true }),
    );
  };

  before(async () => {
    env = await createTestEnvironment('held_bots');
    mkdirSync(targets, { recursive: true });
    newBot('resetter', 1);
    redis = new Redis(env.config.REDIS_URL);
    queues = createQueues(env.config, env.runtime.redis('producer'), ['bot-sync', 'turso-push']);
    app = startCli(
      ['start', '--port', '0', '--concurrency', '2'],
      cliEnv(env.config, { ...settings, LOG_LEVEL: 'info' }),
    );
    boardPort = await listeningPort(app, 'board listening', 60_000);
    await app.waitForOutput(/watcher ready/, 60_000);
    await waitFor('resetter synced', async () => (await trades('resetter')) === 40, 60_000, 200);
  });

  after(async () => {
    app.child.kill('SIGTERM');
    await exitedWithin(app, 30_000).catch(() => undefined);
    await closeQueues(queues);
    redis.disconnect();
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('a replaced database is refused once: ten more writes enqueue nothing, and Redis stays the same size', async () => {
    replace('resetter', (file) => createFreqtradeDb(file, { trades: 5, seed: 9 }));
    await waitFor(
      'the first refusal of bot-sync and turso-push',
      async () => {
        const { failedSyncs, failedPushes } = await footprint();
        return failedSyncs > 0 && failedPushes > 0;
      },
      60_000,
      200,
    );
    // The scheduler drops the held bot's schedules at its next pass (within its 10 s lease
    // renewal); a run it had already started may still fail once: the count starts after both.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const sync = await queues.get('bot-sync')!.getJobScheduler('bot-sync:resetter');
      const push = await queues.get('turso-push')!.getJobScheduler('turso-push:resetter');
      if (sync === undefined && push === undefined) break;
      await sleep(200);
    }
    await sleep(3_000);
    const before = await footprint();
    for (let n = 0; n < 10; n++) {
      write('resetter', n);
      await sleep(600);
    }
    await sleep(4_000);
    const afterWrites = await footprint();
    assert.deepEqual(
      { failedSyncs: afterWrites.failedSyncs, failedPushes: afterWrites.failedPushes },
      { failedSyncs: before.failedSyncs, failedPushes: before.failedPushes },
      'no failed job added by ten writes and the schedules',
    );
    // Keys may expire meanwhile (deduplication, events trimmed); none is added but the key a
    // worker sets again on its stalled-jobs timer (it expires after the interval).
    const added = [...afterWrites.keys].filter((key) => !before.keys.has(key) && !key.endsWith(':stalled-check'));
    assert.deepEqual(
      added,
      [],
      `Redis keys added by the writes (${before.keys.size} before, ${afterWrites.keys.size} after)`,
    );
    assert.equal(await trades('resetter'), 40, 'the history is kept');
    assert.deepEqual(await holds('resetter'), ['bot-sync reset', 'turso-push reset']);
    const { code, output } = await runCli(['status', '--json'], cliEnv(env.config, settings));
    assert.equal(code, 0, output);
    const held = (
      JSON.parse(output) as { held: Array<{ instance: string; job: string; reason: string; message: string }> }
    ).held;
    assert.deepEqual(
      held.map((h) => `${h.instance} ${h.job} ${h.reason}`),
      ['resetter bot-sync reset', 'resetter turso-push reset'],
    );
    assert.match(held[0]!.message, /looks replaced/);
    const metrics = await (await fetch(`http://127.0.0.1:${boardPort}/metrics`)).text();
    for (const job of ['bot-sync', 'turso-push'])
      assert.ok(metrics.includes(`ctp_etl_held_bots{instance="resetter",job="${job}",reason="reset"} 1`), metrics);
  });

  it('accepting the reset releases the bot: its next write is synced again', async () => {
    const accepted = await runCli(
      ['run', 'bot-sync', '--bot', 'resetter', '--accept-reset'],
      cliEnv(env.config, settings),
    );
    assert.equal(accepted.code, 0, accepted.output);
    assert.deepEqual(
      await holds('resetter'),
      ['turso-push reset'],
      'bot-sync released; the push awaits its own acceptance',
    );
    assert.equal(await trades('resetter'), 5);
    const db = new Database(botDbPath(root, 'resetter'));
    db.exec(`CREATE TEMP TABLE added AS SELECT * FROM trades WHERE id = (SELECT max(id) FROM trades);
             UPDATE added SET id = id + 1000; INSERT INTO trades SELECT * FROM added;`);
    db.close();
    await waitFor(
      'the new trade synced by the watcher or the schedule',
      async () => (await trades('resetter')) === 6,
      30_000,
      200,
    );
  });

  it('another file in its place releases it', async () => {
    newBot('swapper', 2);
    copyFileSync(botDbPath(root, 'swapper'), path.join(dir.path, 'swapper-original.sqlite'));
    await waitFor('swapper synced', async () => (await trades('swapper')) === 40, 60_000, 200);
    replace('swapper', (file) => createFreqtradeDb(file, { trades: 3, seed: 8 }));
    await waitFor('swapper held', async () => (await holds('swapper')).includes('bot-sync reset'), 60_000, 200);
    await sleep(4_000); // a run already queued may still fail once
    const failedBefore = await queues.get('bot-sync')!.getFailedCount();
    // The original put back (a copy: another file again): nothing would be deleted, so it syncs.
    replace('swapper', (file) => copyFileSync(path.join(dir.path, 'swapper-original.sqlite'), file));
    await waitFor('swapper released', async () => (await holds('swapper')).length === 0, 60_000, 200);
    write('swapper', 1);
    await waitFor(
      'a completed bot-sync of swapper after the swap',
      async () => {
        const { rows } = await env.db.pool.query<{ ok: boolean }>(
          `SELECT s.last_error IS NULL AND s.last_success_at > now() - interval '10 seconds' AS ok
           FROM bot_sync_state s JOIN bots b ON b.id = s.bot_id WHERE b.instance_id = 'swapper'`,
        );
        return rows[0]?.ok === true;
      },
      30_000,
      200,
    );
    assert.equal(await trades('swapper'), 40);
    assert.equal(await queues.get('bot-sync')!.getFailedCount(), failedBefore, 'nothing failed once released');
  });

  it('a file that is no database is held as bad-file, and released once a database takes its place', async () => {
    mkdirSync(path.join(root, 'broken', 'user_data'), { recursive: true });
    writeFileSync(
      path.join(root, 'broken', 'sync-config.json'),
      JSON.stringify({ tursoUrl: 'file:broken.db', tursoToken: 't', enabled: true }),
    );
    writeFileSync(botDbPath(root, 'broken'), 'not a database at all, just text '.repeat(200));
    await waitFor(
      'broken held for its file',
      async () => (await holds('broken')).join() === 'bot-sync bad-file,turso-push bad-file',
      60_000,
      200,
    );
    replace('broken', (file) => createFreqtradeDb(file, { trades: 40, seed: 4 }));
    await waitFor('broken synced once fixed', async () => (await trades('broken')) === 40, 60_000, 200);
    await waitFor('broken released', async () => (await holds('broken')).length === 0, 30_000, 200);
  });
});
