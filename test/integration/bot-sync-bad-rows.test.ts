import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { PermanentJobError } from '../../src/errors.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { verifyBots } from '../../src/verify/verify-bots.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { statementsOf } from '../helpers/pg-statements.js';
import { tempDir } from '../helpers/temp-dir.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

describe('bot-sync on bad rows: the reader always advances, a bad row never blocks its bot', () => {
  const dir = tempDir('bad-rows');
  const env = suiteEnvironment('bot_sync_bad_rows', { BOT_INSTANCES_DIR: dir.path }, { dir });

  /** A sync that gives up after 20 s (a reader that loops would otherwise hang the test). */
  async function sync(bot: string, overrides: { SYNC_BATCH_SIZE?: number } = {}) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 20_000);
    try {
      const ctx = recordingContext(env.runtime, { signal: abort.signal });
      return await syncBot({ ...ctx, config: { ...ctx.config, ...overrides } }, bot);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A generated bot whose trades table has no primary key (as a hand-made or damaged file may have). */
  function unkeyedBot(bot: string, trades: number, edit: string[]): string {
    const file = botDbPath(dir.path, bot);
    createFreqtradeDb(file, { trades, ordersPerTrade: 1, seed: 13 });
    const db = new Database(file);
    db.pragma('foreign_keys = OFF');
    db.exec(
      'CREATE TABLE trades_loose AS SELECT * FROM trades; DROP TABLE trades; ALTER TABLE trades_loose RENAME TO trades',
    );
    for (const sql of edit) db.exec(sql);
    db.close();
    return file;
  }

  async function rejectsOf(bot: string): Promise<Array<{ collection: string; position: string; reason: string }>> {
    const { rows } = await env.db.pool.query(
      `SELECT collection, position, reason FROM rejects WHERE source = 'bot-sync' AND source_ref LIKE $1 || ':%'
       ORDER BY collection DESC, length(position), position`,
      [bot],
    );
    return rows;
  }

  async function tradeIds(bot: string): Promise<number[]> {
    const { rows } = await env.db.pool.query(
      `SELECT t.trade_id FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1 ORDER BY 1`,
      [bot],
    );
    return rows.map((r: { trade_id: number }) => r.trade_id);
  }

  it('ends on a trades table without a key whose ids pass 2^53, rejecting those rows by bot, table and key', async () => {
    const file = unkeyedBot('huge-ids', 25, ['UPDATE trades SET id = id + 9007199254740980 WHERE id > 10']);
    const result = await sync('huge-ids', { SYNC_BATCH_SIZE: 4 });
    assert.equal(result.trades.inserted, 10);
    assert.deepEqual(await tradeIds('huge-ids'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const rejects = await rejectsOf('huge-ids');
    const trades = rejects.filter((r) => r.collection === 'trades');
    assert.equal(trades.length, 15);
    assert.equal(trades[0]!.position, 'rowid 11');
    assert.equal(
      trades[0]!.reason,
      `bot huge-ids: ${file}: table trades, rowid 11: id 9007199254740991 is outside the range of PostgreSQL's INTEGER key (±2147483647)`,
    );
    // Their orders belong to no trade PostgreSQL has: rejected as orphans.
    assert.equal(rejects.filter((r) => r.collection === 'orders').length, 15);
    assert.equal(result.rejected, 30);

    const [check] = await verifyBots(env.config, env.runtime.pg, ['huge-ids']);
    assert.equal(check?.ok, true, JSON.stringify(check));
    assert.deepEqual(check?.rejectedRows, { source: 15, recorded: 15 });
    // Rows that vanished without a record are a mismatch, not agreement.
    await env.db.pool.query(`DELETE FROM rejects WHERE source_ref LIKE 'huge-ids:%' AND position = 'rowid 11'`);
    const [after] = await verifyBots(env.config, env.runtime.pg, ['huge-ids']);
    assert.equal(after?.ok, false);
    assert.deepEqual(after?.rejectedRows, { source: 15, recorded: 14 });
  });

  it('ends with SYNC_BATCH_SIZE=1 and one text id, and rejects NULL and repeated ids, keeping the first copy', async () => {
    unkeyedBot('odd-ids', 8, [
      "UPDATE trades SET id = 'abc' WHERE id = 2",
      'UPDATE trades SET id = NULL WHERE id = 5',
      "UPDATE trades SET id = 3, pair = 'DUP/USDT' WHERE id = 7",
    ]);
    const result = await sync('odd-ids', { SYNC_BATCH_SIZE: 1 });
    assert.deepEqual(await tradeIds('odd-ids'), [1, 3, 4, 6, 8]);
    const pair = await env.db.pool.query(
      `SELECT t.pair FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = 'odd-ids' AND t.trade_id = 3`,
    );
    assert.notEqual(pair.rows[0].pair, 'DUP/USDT', 'the first row with id 3 (in rowid order) is the one taken');
    const trades = (await rejectsOf('odd-ids')).filter((r) => r.collection === 'trades');
    assert.deepEqual(
      trades.map((r) => [r.position, r.reason.replace(/^.*rowid \d+: /, '')]),
      [
        ['rowid 2', 'id "abc" is not an integer'],
        ['rowid 5', 'id is NULL'],
        ['rowid 7', 'id 3 is duplicated: the row at rowid 3 has it too and is the one taken'],
      ],
    );
    assert.equal(result.rejected, 3 + 3, 'and the orders of trades 2, 5 and 7 as orphans');
    const [check] = await verifyBots(env.config, env.runtime.pg, ['odd-ids']);
    assert.equal(check?.ok, true, JSON.stringify(check));
  });

  it('keeps a bot syncing past an impossible date, a NUL, a non-boolean is_open, a huge timeframe and a too long pair', async () => {
    const file = botDbPath(dir.path, 'bad-values');
    createFreqtradeDb(file, { trades: 12, ordersPerTrade: 1, seed: 17 });
    const db = new Database(file);
    db.exec('ALTER TABLE trades ADD COLUMN note TEXT');
    db.prepare(
      "UPDATE trades SET open_date = '2024-02-30 00:00:00', close_date = '2023-13-01 25:00:00' WHERE id = 2",
    ).run();
    db.prepare('UPDATE trades SET exit_reason = ?, note = ? WHERE id = 3').run('stop\0loss', 'a\0b');
    db.prepare("UPDATE trades SET is_open = 'maybe' WHERE id = 4").run();
    db.prepare('UPDATE trades SET timeframe = 1e20 WHERE id = 5').run();
    db.prepare('UPDATE trades SET pair = ? WHERE id = 6').run(`${'X'.repeat(150)}/USDT`);
    db.close();
    const result = await sync('bad-values');
    assert.equal(result.trades.inserted, 10);
    assert.deepEqual(await tradeIds('bad-values'), [1, 2, 3, 5, 7, 8, 9, 10, 11, 12]);
    const { rows } = await env.db.pool.query(
      `SELECT t.trade_id, t.open_date, t.close_date, t.exit_reason, t.timeframe, t.amount, t.extra
       FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = 'bad-values' AND t.trade_id IN (2, 3, 5, 7)
       ORDER BY t.trade_id`,
    );
    const [two, three, five, seven] = rows;
    assert.deepEqual([two.open_date, two.close_date], [null, null]);
    assert.equal(two.extra['invalid:open_date'], '2024-02-30 00:00:00');
    assert.equal(two.extra['invalid:close_date'], '2023-13-01 25:00:00');
    assert.equal(three.exit_reason, null);
    assert.equal(Buffer.from(three.extra['invalid:exit_reason'].$utf16le, 'base64').toString('utf16le'), 'stop\0loss');
    assert.equal(Buffer.from(three.extra.note.$utf16le, 'base64').toString('utf16le'), 'a\0b');
    assert.equal(five.timeframe, null);
    assert.equal(five.extra['invalid:timeframe'], 1e20);
    assert.equal(seven.extra['invalid:amount'], undefined);

    const trades = (await rejectsOf('bad-values')).filter((r) => r.collection === 'trades');
    assert.deepEqual(
      trades.map((r) => r.reason),
      [
        `bot bad-values: ${file}: table trades, rowid 4: id 4: column is_open: "maybe" is not a valid bool for is_open, which requires one`,
        `bot bad-values: ${file}: table trades, rowid 6: id 6: column pair: "${'X'.repeat(60)}..." is not a valid text for pair, which requires one`,
      ],
    );
    const [check] = await verifyBots(env.config, env.runtime.pg, ['bad-values']);
    assert.equal(check?.ok, true, JSON.stringify(check));
  });

  it("clears a window's reject once its row is fixed, and sends no rejects' DELETE for a bot that has none", async () => {
    const file = botDbPath(dir.path, 'fixed-later');
    createFreqtradeDb(file, { trades: 12, ordersPerTrade: 1, seed: 19 });
    await sync('fixed-later');
    const edit = (sql: string) => {
      const db = new Database(file);
      db.exec(sql);
      db.close();
    };
    // A new trade (a window reads it) FreqTrade could not have written: refused, as a reject.
    edit(
      "CREATE TEMP TABLE t AS SELECT * FROM trades WHERE id = 12; UPDATE t SET id = 13, is_open = 'maybe'; INSERT INTO trades SELECT * FROM t",
    );
    const refused = await sync('fixed-later');
    assert.equal(refused.fullCompare, undefined, 'read by change windows');
    assert.deepEqual(
      (await rejectsOf('fixed-later')).map((r) => `${r.collection} ${r.position}`),
      ['trades rowid 13'],
    );
    edit('UPDATE trades SET is_open = 1 WHERE id = 13');
    const fixed = await sync('fixed-later');
    assert.equal(fixed.fullCompare, undefined, 'read by change windows');
    assert.deepEqual(await rejectsOf('fixed-later'), [], 'the fixed row is no reject any more');
    assert.deepEqual(await tradeIds('fixed-later'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);

    edit('UPDATE trades SET max_rate = coalesce(max_rate, 0) + 1 WHERE id = 13');
    const clean = await statementsOf(() => sync('fixed-later'));
    assert.equal(clean.result.trades.updated, 1);
    assert.deepEqual(
      clean.statements.filter((text) => text.includes('rejects') && !text.startsWith('SELECT')),
      [],
      'no statement writes rejects for a bot that has none and no new one',
    );
  });

  it("handles bad values in a bot's locks, balances and key-value store as in its trades: NULL plus extra, or a reject naming bot, table, key and column", async () => {
    const file = botDbPath(dir.path, 'bad-others');
    createFreqtradeDb(file, { trades: 12, ordersPerTrade: 1, seed: 19 });
    const db = new Database(file);
    db.pragma('ignore_check_constraints = ON');
    const lock = db
      .prepare(
        "INSERT INTO pairlocks (pair, side, reason, lock_time, lock_end_time, active) VALUES ('ETH/USDT', '*', 'x', '2024-02-30 00:00:00', '2024-03-01 00:00:00', 'maybe')",
      )
      .run().lastInsertRowid;
    db.prepare('UPDATE wallet_history SET balance = ? WHERE id = 1').run('lots');
    db.prepare("UPDATE wallet_history SET timestamp = 'yesterday' WHERE id = 2").run();
    db.prepare("UPDATE KeyValueStore SET int_value = 'seven' WHERE id = 1").run();
    db.close();
    const walletRows = (): number => {
      const read = new Database(file, { readonly: true });
      const n = (read.prepare('SELECT count(*) AS n FROM wallet_history').get() as { n: number }).n;
      read.close();
      return n;
    };
    const result = await sync('bad-others');
    assert.equal(
      result.otherTables?.wallet_history?.inserted,
      walletRows() - 1,
      'all balances but the one without a date',
    );
    assert.equal(result.rejected, 1);
    const stored = async (table: string, columns: string, key: string) =>
      (
        await env.db.pool.query(
          `SELECT ${columns} FROM ${table} t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = 'bad-others' AND ${key}`,
        )
      ).rows[0];
    const badLock = await stored('pairlocks', 't.lock_time, t.active, t.extra', `t.lock_id = ${lock}`);
    assert.deepEqual(
      [badLock.lock_time, badLock.active, badLock.extra],
      [null, null, { 'invalid:lock_time': '2024-02-30 00:00:00', 'invalid:active': 'maybe' }],
    );
    const balance = await stored('wallet_history', 't.balance, t.extra', 't.balance_id = 1');
    assert.deepEqual([balance.balance, balance.extra], [null, { 'invalid:balance': 'lots' }]);
    const kv = await stored('key_value_store', 't.int_value, t.extra', 't.kv_id = 1');
    assert.deepEqual([kv.int_value, kv.extra], [null, { 'invalid:int_value': 'seven' }]);
    const reason = (id: number) =>
      `bot bad-others: ${file}: table wallet_history, rowid ${id}: id ${id}: column timestamp: "yesterday" is not a valid date for timestamp, which requires one`;
    const rejected = async () =>
      (await rejectsOf('bad-others')).filter((r) => r.collection === 'wallet_history').map((r) => r.reason);
    assert.deepEqual(await rejected(), [reason(2)]);

    // A new balance without a date, read by the change window: rejected too, the earlier reject kept.
    const write = new Database(file);
    const added = Number(
      write
        .prepare(
          "INSERT INTO wallet_history (timestamp, currency, quote_currency, balance, leverage, bot_managed) VALUES ('yesterday', 'ETH', 'USDT', 1, 1, 1)",
        )
        .run().lastInsertRowid,
    );
    write.close();
    const next = await sync('bad-others');
    assert.equal(next.fullCompare, undefined, 'read by change windows');
    assert.deepEqual(next.otherTables?.wallet_history, {
      inserted: 0,
      updated: 0,
      deleted: 0,
      unchanged: walletRows() - 2,
    });
    assert.deepEqual(await rejected(), [reason(2), reason(added)]);
    const [check] = await verifyBots(env.config, env.runtime.pg, ['bad-others']);
    assert.equal(check?.ok, true, JSON.stringify(check));
    assert.deepEqual(check?.rejectedRows, { source: 2, recorded: 2 });
  });

  it('names the bot, file, table and row of a database error that still escapes, and fails for good when no retry can help', async () => {
    const file = botDbPath(dir.path, 'refused');
    createFreqtradeDb(file, { trades: 6, ordersPerTrade: 1, seed: 19 });
    // A rule PostgreSQL enforces that the sync cannot know of, as a later constraint might be.
    await env.db.pool.query(`CREATE FUNCTION refuse_trade_4() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.trade_id = 4 THEN RAISE EXCEPTION 'trade 4 refused' USING ERRCODE = '22023'; END IF; RETURN NEW; END $$`);
    await env.db.pool.query(
      'CREATE TRIGGER refuse_trade_4 BEFORE INSERT ON trades_aggregated FOR EACH ROW EXECUTE FUNCTION refuse_trade_4()',
    );
    try {
      const error = await sync('refused').then(
        () => assert.fail('expected the sync to fail'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PermanentJobError, `a retry meets the same refusal: ${String(error)}`);
      assert.equal(
        error.message,
        `bot refused: ${file}: table trades, row id 4: PostgreSQL refused it: trade 4 refused [22023]`,
      );
    } finally {
      await env.db.pool.query('DROP TRIGGER refuse_trade_4 ON trades_aggregated; DROP FUNCTION refuse_trade_4()');
    }
    assert.equal((await sync('refused')).trades.inserted, 6);
  });
});
