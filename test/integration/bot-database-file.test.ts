import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BotDatabaseFileError } from '../../src/bots/bot-database-file.js';
import { PermanentJobError } from '../../src/errors.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { verifyBots } from '../../src/verify/verify-bots.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

describe("a bot's database file: fingerprint and errors, as bot-sync and verify see them", () => {
  const dir = tempDir('bot-db-file');
  // Every row compared: these rewrite old rows in place to test the fingerprint, not change windows.
  const env = suiteEnvironment(
    'bot_db_file',
    {
      BOT_INSTANCES_DIR: dir.path,
      SQLITE_BUSY_TIMEOUT: '200ms',
      FULL_COMPARE_INTERVAL: '0',
    },
    { dir },
  );

  /** A generated bot whose trade 10 has this pair: files that differ only there have the same size and header. */
  function generated(file: string, pair: string): void {
    createFreqtradeDb(file, { trades: 20, ordersPerTrade: 1, seed: 3 });
    const db = new Database(file);
    db.prepare('UPDATE trades SET pair = ? WHERE id = 10').run(pair);
    db.close();
  }

  async function storedPair(bot: string): Promise<string> {
    const { rows } = await env.db.pool.query(
      `SELECT t.pair FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1 AND t.trade_id = 10`,
      [bot],
    );
    return rows[0].pair;
  }

  it('does not miss a write that lands within the timestamp granularity of the previous sync', async () => {
    const file = botDbPath(dir.path, 'racy');
    generated(file, 'AAA/USDT');
    const other = path.join(dir.path, 'other.sqlite');
    generated(other, 'BBB/USDT');
    assert.equal(statSync(file).size, statSync(other).size, 'same size');
    assert.deepEqual(readFileSync(file).subarray(24, 28), readFileSync(other).subarray(24, 28), 'same change counter');

    // A file system that keeps whole seconds: the sync and the write after it share one mtime.
    const tick = new Date(Math.floor(Date.now() / 1000) * 1000);
    utimesSync(file, tick, tick);
    const first = await syncBot(recordingContext(env.runtime), 'racy');
    assert.equal(first.trades.inserted, 20);
    assert.equal(await storedPair('racy'), 'AAA/USDT');

    writeFileSync(file, readFileSync(other)); // in place: same inode, same size
    utimesSync(file, tick, tick);
    const second = await syncBot(recordingContext(env.runtime), 'racy');
    assert.equal(second.skipped, undefined, 'the file was read again');
    assert.equal(second.trades.updated, 1);
    assert.equal(await storedPair('racy'), 'BBB/USDT');

    // Once the file has been still for longer than that granularity, an unchanged file is trusted.
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    await syncBot(recordingContext(env.runtime), 'racy');
    assert.equal((await syncBot(recordingContext(env.runtime), 'racy')).skipped, 'unchanged');
  });

  /** A WAL database whose last commits live in its WAL, as a running FreqTrade leaves it. */
  function walBot(bot: string): string {
    const file = botDbPath(dir.path, bot);
    mkdirSync(path.dirname(file), { recursive: true });
    const build = path.join(dir.path, `${bot}-build.sqlite`);
    createFreqtradeDb(build, { trades: 5, ordersPerTrade: 1, seed: 9, wal: true });
    const writer = new Database(build);
    writer.pragma('wal_autocheckpoint = 0');
    writer.prepare("UPDATE trades SET exit_reason = 'in-wal' WHERE id = 1").run();
    copyFileSync(build, file);
    copyFileSync(`${build}-wal`, `${file}-wal`);
    writer.close();
    return file;
  }

  const shmCases: Array<[string, (shm: string) => void]> = [
    ['a dangling symlink', (shm) => symlinkSync(path.join(dir.path, 'nowhere', 'x-shm'), shm)],
    ['a FIFO', (shm) => execFileSync('mkfifo', [shm])],
  ];
  for (const [what, make] of shmCases) {
    it(`says a WAL database's -shm cannot be opened when it is ${what}, for good`, async () => {
      const bot = `shm-${what.split(' ').at(-1)}`;
      const file = walBot(bot);
      make(`${file}-shm`);
      const error = await syncBot(recordingContext(env.runtime), bot).then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PermanentJobError, `a retry cannot help: ${String(error)}`);
      assert.ok(error instanceof BotDatabaseFileError && error.problem === 'shm-unavailable', String(error));
      assert.match(error.message, new RegExp(`^bot ${bot}: .*tradesv3\\.sqlite is a WAL database whose`));
      assert.match(error.message, /tradesv3\.sqlite-shm cannot be opened/);

      const [check] = await verifyBots(env.config, env.runtime.pg, [bot]);
      assert.match(check?.error ?? '', /is a WAL database whose shared-memory file .*-shm cannot be opened/);
    });
  }
});
