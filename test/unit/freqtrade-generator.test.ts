import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { addTrades, closeTrades, createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { ALL_SCHEMA_VERSIONS } from '../../scripts/freqtrade/schemas.js';
import { naiveUtc, naiveUtcMicros } from '../../scripts/freqtrade/trade-plan.js';
import { tempDir } from '../helpers/temp-dir.js';
import { botDates } from '../helpers/bot-dates.js';
import { sqliteTables } from '../helpers/turso-bots.js';

const NAIVE_UTC = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$/;
const DAY_MS = 86_400_000;

/** Every date of a file later than `clock`, as table.column=date (a pair lock's end aside). */
function datesAfter(file: string, clock: Date): string[] {
  const limit = naiveUtc(clock.getTime() * 1000);
  return botDates(file)
    .filter((cell) => cell.date > limit)
    .map((cell) => `${cell.table}.${cell.column}=${cell.date}`);
}

describe('the FreqTrade database generator', () => {
  const dir = tempDir('generator');
  after(() => dir.remove());
  const file = (name: string): string => path.join(dir.path, `${name}.sqlite`);

  it('makes the same database for the same seed, and another for another seed', () => {
    createBotDatabase(file('a'), { trades: 50, seed: 1 });
    createBotDatabase(file('b'), { trades: 50, seed: 1 });
    createBotDatabase(file('c'), { trades: 50, seed: 2 });
    assert.deepEqual(sqliteTables(file('a')), sqliteTables(file('b')));
    assert.notDeepEqual(sqliteTables(file('a')).get('trades'), sqliteTables(file('c')).get('trades'));
  });

  for (const version of ALL_SCHEMA_VERSIONS) {
    it(`fills every table of ${version}, in WAL mode, with FreqTrade's dates and sound references`, () => {
      const made = createBotDatabase(file(version), { version, trades: 300, seed: 5 });
      const db = new Database(made.file, { readonly: true });
      const tables = db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((t) => t.name);
      for (const table of tables)
        assert.ok(made.rows[table]! > 0, `${version} ${table} has rows (${JSON.stringify(made.rows)})`);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      const dates = db.prepare('SELECT open_date, close_date FROM trades').all() as Array<
        Record<string, string | null>
      >;
      for (const { open_date, close_date } of dates) {
        assert.match(open_date!, NAIVE_UTC);
        if (close_date) assert.match(close_date, NAIVE_UTC);
      }
      const open = db.prepare('SELECT count(*) AS n FROM trades WHERE is_open = 1').get() as { n: number };
      assert.ok(open.n > 0 && open.n < 40, `${open.n} open trades of 300`);
      const meme = db.prepare('SELECT max(amount) AS n FROM trades').get() as { n: number };
      assert.ok(meme.n > 1e10, `a meme-coin amount above 10^10 (${meme.n})`);
      if (tables.includes('orders')) {
        const statuses = db.prepare('SELECT DISTINCT status FROM orders ORDER BY 1').all() as Array<{ status: string }>;
        assert.deepEqual(
          statuses.map((s) => s.status),
          ['canceled', 'closed', 'open'],
        );
        const partial = db
          .prepare(
            `SELECT count(*) AS n FROM (SELECT o.ft_trade_id FROM orders o JOIN trades t ON t.id = o.ft_trade_id
             WHERE o.status = 'closed' AND o.side <> CASE WHEN ${version >= 'S07' ? 't.is_short' : '0'} = 1 THEN 'sell' ELSE 'buy' END
             GROUP BY o.ft_trade_id HAVING count(*) > 1)`,
          )
          .get() as { n: number };
        assert.ok(partial.n > 0, 'trades with partial exits');
      }
      db.close();
    });
  }

  for (const version of ALL_SCHEMA_VERSIONS) {
    it(`${version}: no date after the host's clock, whether it is past the version's era, in it, or trading now`, () => {
      const tradingMode = version >= 'S07' ? 'futures' : 'spot';
      const now = new Date();
      const made = createBotDatabase(file(`now-${version}`), { version, trades: 300, seed: 7, tradingMode });
      assert.deepEqual(datesAfter(made.file, now), []);

      // A host whose clock is 20 days into the version's era: the same trades, dated earlier.
      const opens = (f: string) => {
        const db = new Database(f, { readonly: true });
        const row = db.prepare('SELECT min(open_date) AS first, max(open_date) AS last FROM trades').get() as {
          first: string;
          last: string;
        };
        db.close();
        return { first: naiveUtcMicros(row.first) / 1000, last: naiveUtcMicros(row.last) / 1000 };
      };
      const era = opens(made.file);
      const clock = new Date(era.first + 20 * DAY_MS);
      const behind = createBotDatabase(file(`behind-${version}`), {
        version,
        trades: 300,
        seed: 7,
        tradingMode,
        now: clock,
      });
      assert.deepEqual(datesAfter(behind.file, clock), []);
      assert.equal(behind.trades, 300);
      const moved = opens(behind.file);
      assert.ok(moved.first < era.first, 'the trades start before the era');
      assert.ok(
        Math.abs(moved.last - moved.first - (era.last - era.first)) < DAY_MS,
        'spread over as long as in the era',
      );

      // Trading at this moment, as scripts/demo-writer.ts does: trades opened, older open ones closed.
      const db = new Database(made.file);
      const nowUs = Date.now() * 1000;
      addTrades(db, {
        first: 301,
        count: 40,
        seed: 7,
        tradingMode,
        openShare: 1,
        startUs: nowUs,
        spacingUs: 1000,
        notAfterUs: nowUs,
      });
      const open = db
        .prepare('SELECT id FROM trades WHERE is_open = 1 AND id <= 300 ORDER BY id LIMIT 30')
        .all() as Array<{
        id: number;
      }>;
      const ids = open.map((r) => r.id);
      assert.equal(closeTrades(db, ids, { closedUs: nowUs, seed: 7, tradingMode, notAfterUs: nowUs }), ids.length);
      db.close();
      assert.deepEqual(datesAfter(made.file, new Date(nowUs / 1000)), []);
    });
  }

  it('closes trades opened seconds ago by the moment of writing (quickly when it must): no date after it, no close before the open', () => {
    const made = createBotDatabase(file('quick-close'), { trades: 10, seed: 11, openShare: 0 });
    const db = new Database(made.file);
    const openedAtUs = Date.now() * 1000;
    // Opened "now", as a running bot writes them: their fills already past.
    addTrades(db, {
      first: 11,
      count: 40,
      seed: 11,
      openShare: 1,
      startUs: openedAtUs,
      spacingUs: 0,
      notAfterUs: openedAtUs,
    });
    const ids = Array.from({ length: 40 }, (_, k) => 11 + k);
    // Closed two seconds later, each with its own draws (another seed), by that moment.
    const closedAtUs = openedAtUs + 2_000_000;
    assert.equal(closeTrades(db, ids, { closedUs: closedAtUs, seed: 12, notAfterUs: closedAtUs }), ids.length);
    const trades = db
      .prepare('SELECT id, open_date, close_date FROM trades WHERE id >= 11 ORDER BY id')
      .all() as Array<{ id: number; open_date: string; close_date: string | null }>;
    db.close();
    assert.deepEqual(datesAfter(made.file, new Date(closedAtUs / 1000)), []);
    for (const trade of trades) {
      assert.ok(
        trade.close_date !== null && trade.close_date > trade.open_date,
        `trade ${trade.id} closed after it opened`,
      );
    }
  });

  it('refuses to close a trade before it opened, naming the trade', () => {
    const made = createBotDatabase(file('too-early'), { trades: 20, seed: 3, openShare: 0.5 });
    const db = new Database(made.file);
    const open = db.prepare('SELECT id, open_date FROM trades WHERE is_open = 1 ORDER BY id LIMIT 1').get() as {
      id: number;
      open_date: string;
    };
    const openedUs = naiveUtcMicros(open.open_date);
    assert.throws(
      () => closeTrades(db, [open.id], { closedUs: openedUs + 1e6, seed: 3, notAfterUs: openedUs - 1e6 }),
      new RegExp(`^Error: generator: trade ${open.id}, opened ${open.open_date}, cannot have closed by `),
    );
    db.close();
  });

  it('makes futures trades: shorts, leverage up to 50x, liquidation prices, funding fees', () => {
    const made = createBotDatabase(file('futures'), { version: 'S13', trades: 400, tradingMode: 'futures' });
    const db = new Database(made.file, { readonly: true });
    const r = db
      .prepare(
        `SELECT sum(is_short) AS shorts, max(leverage) AS lev, count(liquidation_price) AS liq, sum(funding_fees <> 0) AS fees,
           min(trading_mode) AS mode FROM trades`,
      )
      .get() as Record<string, number | string>;
    db.close();
    assert.ok(Number(r.shorts) > 50, `shorts: ${r.shorts}`);
    assert.equal(r.lev, 50);
    assert.equal(r.liq, 400);
    assert.ok(Number(r.fees) > 100, `funding fees: ${r.fees}`);
    assert.equal(r.mode, 'FUTURES');
    assert.throws(
      () => createBotDatabase(file('old-futures'), { version: 'S06', trades: 1, tradingMode: 'futures' }),
      /futures trades need FreqTrade 2022\.4 \(schema S07\) or later/,
    );
  });

  it('opens and closes trades the way a running bot does (the demo writer)', () => {
    const made = createBotDatabase(file('live'), { trades: 100, seed: 9, tradingMode: 'futures' });
    const db = new Database(made.file);
    const now = Date.UTC(2026, 0, 1) * 1000;
    addTrades(db, {
      first: 101,
      count: 3,
      seed: 9,
      tradingMode: 'futures',
      openShare: 1,
      startUs: now,
      spacingUs: 1000,
    });
    const openIds = (
      db.prepare('SELECT id FROM trades WHERE is_open = 1 ORDER BY id').all() as Array<{ id: number }>
    ).map((r) => r.id);
    assert.ok(openIds.includes(101) && openIds.includes(103));
    assert.equal(closeTrades(db, [101, 102, 1], { closedUs: now + 5e6, seed: 9, tradingMode: 'futures' }), 2);
    const closed = db.prepare('SELECT is_open, close_date, exit_reason FROM trades WHERE id IN (101, 102)').all();
    assert.deepEqual(
      closed.map((r) => (r as Record<string, unknown>).close_date),
      ['2026-01-01 00:00:05.000000', '2026-01-01 00:00:05.000000'],
    );
    const stillOpen = db
      .prepare('SELECT count(*) AS n FROM orders WHERE ft_trade_id IN (101, 102) AND ft_is_open = 1')
      .get() as { n: number };
    assert.equal(stillOpen.n, 0, 'their open orders are cancelled');
    const exits = db
      .prepare(
        "SELECT count(*) AS n FROM orders WHERE ft_trade_id IN (101, 102) AND status = 'closed' AND ft_order_side <> 'stoploss'",
      )
      .get() as { n: number };
    assert.ok(exits.n >= 4, 'an entry and at least one exit each');
    db.close();
  });
});
