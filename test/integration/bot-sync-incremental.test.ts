import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ADVISORY_LOCKS } from '../../src/connections/advisory-locks.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { PermanentJobError } from '../../src/errors.js';
import { botDbPath, createFreqtradeDb, insertTrades } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

describe('bot-sync incremental, exact and one run per bot', () => {
  const dir = tempDir('incremental');
  // Every sync compares every row: these edit old rows in place, which change windows leave to
  // the next full compare (change-windows.test.ts covers the windows).
  const env = suiteEnvironment(
    'bot_sync_incremental',
    {
      BOT_INSTANCES_DIR: dir.path,
      SYNC_BATCH_SIZE: '500',
      FULL_COMPARE_INTERVAL: '0',
    },
    { dir },
  );

  /** What PostgreSQL holds for a bot, as comparable rows. */
  async function stored(instance: string): Promise<{ trades: string[]; orders: string[] }> {
    const trades = await env.db.pool.query(
      `SELECT t.trade_id || '|' || t.pair || '|' || t.amount || '|' || coalesce(t.close_profit_abs::text, '-') AS r
       FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1 ORDER BY t.trade_id`,
      [instance],
    );
    const orders = await env.db.pool.query(
      `SELECT o.order_pk || '|' || o.trade_id || '|' || o.amount AS r FROM orders o JOIN bots b ON b.id = o.bot_id
       WHERE b.instance_id = $1 ORDER BY o.order_pk`,
      [instance],
    );
    return { trades: trades.rows.map((r: { r: string }) => r.r), orders: orders.rows.map((r: { r: string }) => r.r) };
  }

  /** The same rows read from the SQLite file (amounts through SQLite's own text form of the REAL, parsed back). */
  function source(file: string): { trades: string[]; orders: string[] } {
    const db = new Database(file, { readonly: true });
    const num = (v: number | null): string => (v === null ? '-' : String(Number(v)));
    const trades = (
      db.prepare('SELECT id, pair, amount, close_profit_abs FROM trades ORDER BY id').all() as Array<{
        id: number;
        pair: string;
        amount: number;
        close_profit_abs: number | null;
      }>
    ).map((t) => `${t.id}|${t.pair}|${num(t.amount)}|${num(t.close_profit_abs)}`);
    const orders = (
      db.prepare('SELECT id, ft_trade_id, amount FROM orders ORDER BY id').all() as Array<{
        id: number;
        ft_trade_id: number;
        amount: number;
      }>
    ).map((o) => `${o.id}|${o.ft_trade_id}|${num(o.amount)}`);
    db.close();
    return { trades, orders };
  }

  /** PostgreSQL prints numerics in plain notation; parse both sides to compare the numbers, not their spelling. */
  function normalize(rows: { trades: string[]; orders: string[] }): { trades: string[]; orders: string[] } {
    const fix = (r: string): string =>
      r
        .split('|')
        .map((part) => (/^-?[\d.e+-]+$/.test(part) ? String(Number(part)) : part))
        .join('|');
    return { trades: rows.trades.map(fix), orders: rows.orders.map(fix) };
  }

  it('writes only the k changed rows, follows deletions, and ends equal to the source', async () => {
    const file = botDbPath(dir.path, 'bot-inc');
    createFreqtradeDb(file, { trades: 2000, ordersPerTrade: 2, seed: 7 });
    const first = await syncBot(recordingContext(env.runtime), 'bot-inc');
    assert.deepEqual([first.trades.inserted, first.orders.inserted], [2000, 4000]);

    const db = new Database(file);
    db.prepare(
      'UPDATE trades SET close_profit_abs = close_profit_abs + 1, is_open = 0 WHERE id IN (5, 50, 500, 1500, 1999)',
    ).run();
    db.prepare('UPDATE orders SET status = ? WHERE id IN (11, 12)').run('canceled');
    db.prepare('DELETE FROM orders WHERE ft_trade_id IN (7, 8)').run();
    db.prepare('DELETE FROM trades WHERE id IN (7, 8)').run();
    insertTrades(db, 2001, 3, 2, 99);
    db.close();

    const second = await syncBot(recordingContext(env.runtime), 'bot-inc');
    assert.deepEqual(second.trades, { inserted: 3, updated: 5, deleted: 2, unchanged: 1993 });
    assert.deepEqual(second.orders, { inserted: 6, updated: 2, deleted: 4, unchanged: 3994 });
    assert.deepEqual(normalize(await stored('bot-inc')), normalize(source(file)));

    const third = await syncBot(recordingContext(env.runtime), 'bot-inc', { full: true });
    assert.equal(
      third.inserted + third.updated + third.deleted,
      0,
      'a full compare after an exact sync writes nothing',
    );
  });

  it('holds meme-coin amounts far above 10^10 and tiny rates exactly as SQLite stores them', async () => {
    const file = botDbPath(dir.path, 'bot-meme');
    createFreqtradeDb(file, { trades: 3, ordersPerTrade: 1, seed: 3 });
    const db = new Database(file);
    db.prepare('UPDATE trades SET amount = ?, open_rate = ? WHERE id = 1').run(123456789012.5, 0.5);
    db.prepare('UPDATE trades SET amount = ?, open_rate = ? WHERE id = 2').run(9.876543210987654e19, 1.5e-12);
    db.close();
    await syncBot(recordingContext(env.runtime), 'bot-meme');
    const { rows } = await env.db.pool.query(
      `SELECT t.trade_id, t.amount::text AS amount, t.open_rate::text AS rate FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id
       WHERE b.instance_id = 'bot-meme' AND t.trade_id IN (1, 2) ORDER BY t.trade_id`,
    );
    assert.deepEqual(rows, [
      { trade_id: 1, amount: '123456789012.5', rate: '0.5' },
      { trade_id: 2, amount: '98765432109876540000', rate: '0.0000000000015' },
    ]);
  });

  it('rolls back a run that dies halfway, and the next run is exact', async () => {
    const file = botDbPath(dir.path, 'bot-crash');
    createFreqtradeDb(file, { trades: 1500, ordersPerTrade: 1, seed: 11 });
    const abort = new AbortController();
    let batches = 0;
    const dying = recordingContext(env.runtime, {
      signal: abort.signal,
      onProgress: () => {
        batches += 1;
        if (batches === 3) abort.abort();
      },
    });
    await assert.rejects(syncBot(dying, 'bot-crash'), /bot bot-crash: sync aborted/);
    const none = await stored('bot-crash');
    assert.equal(none.trades.length, 0, 'nothing of the aborted run is visible');
    const retry = await syncBot(recordingContext(env.runtime, { attempt: 2 }), 'bot-crash');
    assert.deepEqual([retry.trades.inserted, retry.orders.inserted], [1500, 1500]);
    assert.deepEqual(normalize(await stored('bot-crash')), normalize(source(file)));
    const state = await env.db.pool.query(
      `SELECT s.last_error, s.trades_count FROM bot_sync_state s JOIN bots b ON b.id = s.bot_id WHERE b.instance_id = 'bot-crash'`,
    );
    assert.deepEqual(state.rows[0], { last_error: null, trades_count: 1500 });
  });

  it('lets only one run sync a bot at a time: the second waits, and writes what a holder that rolled back did not', async () => {
    const file = botDbPath(dir.path, 'bot-lock');
    createFreqtradeDb(file, { trades: 10, seed: 5 });
    await syncBot(recordingContext(env.runtime), 'bot-lock');
    const db = new Database(file);
    db.prepare('UPDATE trades SET amount = amount + 1 WHERE id = 1').run();
    db.close();
    // Another worker's run, holding the bot's lock in its open transaction; it then dies (rolls back).
    const holder = await env.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(
        `SELECT pg_advisory_xact_lock($1, hashtext(id::text)) FROM bots WHERE instance_id = 'bot-lock'`,
        [ADVISORY_LOCKS['bot-sync']],
      );
      const second = syncBot(recordingContext(env.runtime), 'bot-lock');
      await waitFor('the second run to wait for the lock', async () => {
        const waiting = await env.db.pool.query(
          `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND NOT granted`,
          [ADVISORY_LOCKS['bot-sync']],
        );
        return (waiting.rowCount ?? 0) > 0;
      });
      await holder.query('ROLLBACK');
      const result = await second;
      assert.equal(result.skipped, undefined);
      assert.equal(result.trades.updated, 1, 'the change the holder never committed is written');
    } finally {
      holder.release();
    }
  });

  it('fails the attempt (to retry it) when another run holds the bot past SYNC_LOCK_TIMEOUT', async () => {
    const file = botDbPath(dir.path, 'bot-lock-timeout');
    createFreqtradeDb(file, { trades: 5, seed: 6 });
    await syncBot(recordingContext(env.runtime), 'bot-lock-timeout');
    const holder = await env.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(
        `SELECT pg_advisory_xact_lock($1, hashtext(id::text)) FROM bots WHERE instance_id = 'bot-lock-timeout'`,
        [ADVISORY_LOCKS['bot-sync']],
      );
      const ctx = { ...recordingContext(env.runtime), config: { ...env.config, SYNC_LOCK_TIMEOUT: 200 } };
      await assert.rejects(syncBot(ctx, 'bot-lock-timeout'), (error: Error) => {
        assert.ok(!(error instanceof PermanentJobError), 'a retryable error');
        assert.match(error.message, /bot bot-lock-timeout: another sync of this bot has held it/);
        return true;
      });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  it('syncs while FreqTrade writes to its WAL-mode database, and catches up exactly', async () => {
    const file = botDbPath(dir.path, 'bot-wal');
    createFreqtradeDb(file, { trades: 300, ordersPerTrade: 1, seed: 13, wal: true });
    const writer = new Database(file);
    writer.pragma('journal_mode = WAL');
    let next = 301;
    const write = (): void => {
      insertTrades(writer, next, 5, 1, 17);
      writer.prepare('UPDATE trades SET amount = amount * 1.01 WHERE id = ?').run(next - 100);
      next += 5;
    };
    for (let round = 0; round < 5; round++) {
      write();
      const result = await syncBot(recordingContext(env.runtime), 'bot-wal');
      assert.equal(result.skipped, undefined, `round ${round} saw the new writes`);
      write(); // a write between syncs, with the reader's -shm still open elsewhere
    }
    writer.close();
    await syncBot(recordingContext(env.runtime), 'bot-wal');
    assert.deepEqual(normalize(await stored('bot-wal')), normalize(source(file)));
    assert.equal((await stored('bot-wal')).trades.length, 300 + 50);
  });
});
