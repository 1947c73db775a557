import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { verifyBots } from '../../src/verify/verify-bots.js';
import { FIXTURE_FILES, FIXTURES_SKIP, installFixture, type FixtureName } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

/** Reads a FreqTrade database the way a person would check it by hand, naming old columns explicitly. */
function sourceTrades(file: string): Array<Record<string, unknown>> {
  const db = new Database(file, { readonly: true });
  const columns = new Set(
    db
      .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('trades')")
      .all()
      .map((r) => r.name),
  );
  const exitReason = columns.has('exit_reason') ? 'exit_reason' : 'sell_reason';
  const enterTag = columns.has('enter_tag') ? 'enter_tag' : columns.has('buy_tag') ? 'buy_tag' : 'NULL';
  const rows = db
    .prepare(
      `SELECT id, pair, is_open, amount, open_rate, close_rate, close_profit, close_profit_abs, open_date, close_date, timeframe, strategy,
         ${exitReason} AS exit_reason, ${enterTag} AS enter_tag FROM trades ORDER BY id`,
    )
    .all() as Array<Record<string, unknown>>;
  db.close();
  return rows;
}

function sourceCount(file: string, table: string): number {
  const db = new Database(file, { readonly: true });
  const exists = db.prepare('SELECT count(*) AS n FROM sqlite_master WHERE name = ?').get(table) as { n: number };
  const count = exists.n === 0 ? 0 : (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  db.close();
  return count;
}

const asNumber = (v: unknown): number | null => (v === null ? null : Number(v));
/** Microseconds since the epoch of FreqTrade's naive UTC text, without going through a JS Date (which keeps only ms). */
function utcMicros(naive: unknown): string | null {
  if (naive === null) return null;
  const [seconds = '', fraction = ''] = String(naive).split('.');
  return (
    BigInt(Date.parse(`${seconds.replace(' ', 'T')}Z`)) * 1000n +
    BigInt(fraction.padEnd(6, '0').slice(0, 6))
  ).toString();
}

describe('bot-sync on the real FreqTrade databases of six versions', { skip: FIXTURES_SKIP }, () => {
  const dir = tempDir('fixtures');
  const files = new Map<FixtureName, string>();

  const env = suiteEnvironment('bot_sync_fixtures', { BOT_INSTANCES_DIR: dir.path }, { dir });

  before(() => {
    // Files changed in the last 2 s are never trusted as unchanged: age the copies.
    const aged = new Date(Date.now() - 60_000);
    for (const name of Object.keys(FIXTURE_FILES) as FixtureName[]) {
      files.set(name, installFixture(dir.path, name, name));
      utimesSync(files.get(name)!, aged, aged);
    }
  });

  for (const name of Object.keys(FIXTURE_FILES) as FixtureName[]) {
    it(`copies every trade and order of ${FIXTURE_FILES[name]} exactly`, async () => {
      const file = files.get(name)!;
      const result = await syncBot(recordingContext(env.runtime), name);
      const trades = sourceCount(file, 'trades');
      const orders = sourceCount(file, 'orders');
      assert.equal(result.trades.inserted, trades);
      assert.equal(result.orders.inserted, orders);
      assert.equal(result.rejected, 0);

      const stored = await env.db.pool.query(
        `SELECT t.trade_id, t.pair, t.is_open, t.amount, t.open_rate, t.close_rate, t.close_profit, t.close_profit_abs, t.profit_abs,
           (extract(epoch FROM t.open_date) * 1000000)::bigint::text AS open_us, (extract(epoch FROM t.close_date) * 1000000)::bigint::text AS close_us,
           t.timeframe, t.strategy, t.exit_reason, t.enter_tag
         FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1 ORDER BY t.trade_id`,
        [name],
      );
      const source = sourceTrades(file);
      assert.equal(stored.rows.length, source.length);
      source.forEach((s, i) => {
        const p = stored.rows[i] as Record<string, unknown>;
        const where = `${name} trade ${String(s.id)}`;
        assert.equal(p.trade_id, s.id, where);
        assert.equal(p.pair, s.pair, where);
        assert.equal(p.is_open, s.is_open === 1, where);
        for (const column of ['amount', 'open_rate', 'close_rate', 'close_profit', 'close_profit_abs']) {
          assert.equal(asNumber(p[column]), asNumber(s[column]), `${where} ${column}`);
        }
        assert.equal(
          asNumber(p.profit_abs),
          asNumber(s.close_profit_abs),
          `${where} profit_abs mirrors close_profit_abs`,
        );
        assert.equal(p.open_us, utcMicros(s.open_date), `${where} open_date read as UTC`);
        assert.equal(p.close_us, utcMicros(s.close_date), `${where} close_date read as UTC`);
        assert.equal(p.timeframe, s.timeframe, where);
        assert.equal(p.strategy, s.strategy, where);
        assert.equal(p.exit_reason, s.exit_reason, where);
        assert.equal(p.enter_tag, s.enter_tag ?? null, where);
      });
      const storedOrders = await env.db.pool.query(
        'SELECT count(*)::int AS n FROM orders o JOIN bots b ON b.id = o.bot_id WHERE b.instance_id = $1',
        [name],
      );
      assert.equal(storedOrders.rows[0].n, orders);
    });
  }

  it("copies every real bot's pairlocks, trade_custom_data and KeyValueStore, and verify finds every value equal", async () => {
    const seen: Record<string, number> = {};
    for (const name of Object.keys(FIXTURE_FILES) as FixtureName[]) {
      const file = files.get(name)!;
      for (const [source, target] of [
        ['pairlocks', 'pairlocks'],
        ['trade_custom_data', 'trade_custom_data'],
        ['wallet_history', 'wallet_history'],
        ['KeyValueStore', 'key_value_store'],
      ] as const) {
        const { rows } = await env.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${target} t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1`,
          [name],
        );
        assert.equal(rows[0]!.n, sourceCount(file, source), `${name} ${source}`);
        seen[source] = (seen[source] ?? 0) + rows[0]!.n;
      }
    }
    // fixtures/README.md: every file has pairlocks, the two newest KeyValueStore (their trade_custom_data is empty).
    for (const table of ['pairlocks', 'KeyValueStore']) assert.ok(seen[table]! > 0, table);
    const checks = await verifyBots(env.config, env.runtime.pg, Object.keys(FIXTURE_FILES));
    for (const check of checks) {
      assert.equal(check.ok, true, JSON.stringify(check));
      for (const [table, compared] of Object.entries(check.otherTables ?? {}))
        assert.equal(compared.source.count, compared.target.count, `${check.bot} ${table}`);
    }
  });

  it('keeps source columns the schema does not name in extra, instead of dropping them', async () => {
    const { rows } = await env.db.pool.query(
      `SELECT t.extra FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = 'germoso' AND t.trade_id = 1`,
    );
    assert.equal(rows[0].extra.record_version, 2);
    assert.equal(rows[0].extra.precision_mode_price, 4);
    const old = await env.db.pool.query(
      `SELECT t.extra FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = 'chaserun' AND t.trade_id = 1`,
    );
    assert.equal(old.rows[0].extra.stoploss_last_update, '2021-05-24 22:45:16.117958');
  });

  it('reads nothing on a second run over unchanged databases', async () => {
    for (const name of Object.keys(FIXTURE_FILES) as FixtureName[]) {
      const ctx = recordingContext(env.runtime);
      const result = await syncBot(ctx, name);
      assert.equal(result.skipped, 'unchanged', name);
      assert.equal(result.inserted + result.updated + result.deleted, 0, name);
      assert.equal(result.trades.unchanged, sourceCount(files.get(name)!, 'trades'), name);
    }
    const lag = await env.db.pool.query(
      `SELECT count(*)::int AS n FROM bot_sync_state WHERE last_success_at > now() - interval '1 minute'`,
    );
    assert.equal(lag.rows[0].n, 6);
  });
});
