import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BotLoop, rowState, type LoopCommit } from '../../bench/_freqtrade-loop.js';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { naiveUtc } from '../../scripts/freqtrade/trade-plan.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * bench/live-fleet.ts times a commit until PostgreSQL holds its rows' states or later ones, which
 * is exact only if every commit moves each row it names to a state no earlier commit left.
 */
describe("the live-fleet benchmark's FreqTrade loop", () => {
  const root = tempDir('freqtrade-loop');
  after(() => root.remove());

  it('moves each row a commit names to a new state, the one the database holds, dated no later than the clock', () => {
    const file = path.join(root.path, 'tradesv3.sqlite');
    createBotDatabase(file, { trades: 300, seed: 3, tradingMode: 'futures', openShare: 3 / 300 });
    const commits: LoopCommit[] = [];
    // A trade opened and one closed at every tick, and funding at every tick: every kind of commit, often.
    const plan = { tickMs: 5_000, tradeEveryMs: 5_000, fundingEveryMs: 1, moveShare: 1, maxOpenTrades: 5 };
    const loop = new BotLoop({ bot: 'bot-a', file, futures: true, seed: 3 }, plan, Date.now(), (c) => commits.push(c));
    for (let i = 0; i < 40; i++) loop.tick(Date.now());
    loop.close();

    const kinds = new Set(commits.map((c) => c.kind));
    assert.deepEqual([...kinds].sort(), ['close', 'funding', 'open', 'rates']);
    assert.deepEqual(
      commits.map((c) => c.seq),
      commits.map((_, i) => i + 1),
    );
    const states = new Map<number, string[]>();
    for (const c of commits) {
      assert.ok(c.rows.length > 0, `commit ${c.seq} (${c.kind}) names no row`);
      for (const [trade, state] of c.rows) states.set(trade, [...(states.get(trade) ?? []), state]);
    }
    const db = new Database(file, { readonly: true });
    try {
      const read = db.prepare<
        [number],
        { is_open: number; max_rate: number; min_rate: number; stop_loss: number; funding_fees: number }
      >('SELECT is_open, max_rate, min_rate, stop_loss, funding_fees FROM trades WHERE id = ?');
      for (const [trade, list] of states) {
        assert.equal(
          new Set(list).size,
          list.length,
          `trade ${trade} went back to an earlier state: ${list.join(', ')}`,
        );
        assert.equal(rowState(read.get(trade)!), list.at(-1), `trade ${trade}'s last state is not the database's`);
      }
      const latest = db
        .prepare<[], { latest: string }>(
          `SELECT max(d) AS latest FROM (SELECT max(open_date) AS d FROM trades UNION ALL SELECT max(close_date) FROM trades
           UNION ALL SELECT max(order_date) FROM orders UNION ALL SELECT max(order_filled_date) FROM orders
           UNION ALL SELECT max(order_update_date) FROM orders)`,
        )
        .get()!.latest;
      assert.ok(latest <= naiveUtc(Date.now() * 1000), `a date after the clock: ${latest}`);
    } finally {
      db.close();
    }
  });
});
