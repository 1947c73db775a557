import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { verifyBots } from '../../src/verify/verify-bots.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import type { SchemaVersion } from '../../scripts/freqtrade/schemas.js';
import {
  botDbPath,
  createFreqtradeDb,
  FIXTURE_FILES,
  FIXTURES_SKIP,
  installFixture,
  type FixtureName,
} from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

describe('verify: bot trades and orders, SQLite against PostgreSQL', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  const dir = tempDir('verify-bots');
  /** Bots of an old spot, a middle and the newest futures FreqTrade schema. */
  const versions: Array<[string, SchemaVersion, 'spot' | 'futures']> = [
    ['v2021', 'S05', 'spot'],
    ['v2023', 'S09', 'spot'],
    ['v2025', 'S13', 'futures'],
  ];
  let newestOrders = 0;

  before(async () => {
    env = await createTestEnvironment('verify_bots', { BOT_INSTANCES_DIR: dir.path });
    for (const [name, version, tradingMode] of versions) {
      const made = createBotDatabase(botDbPath(dir.path, name), { version, tradingMode, trades: 75, seed: 12 });
      if (name === 'v2025') newestOrders = made.orders;
      await syncBot(recordingContext(env.runtime), name);
    }
    createFreqtradeDb(botDbPath(dir.path, 'generated'), { trades: 500, seed: 3 });
    await syncBot(recordingContext(env.runtime), 'generated');
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('finds every synced bot equal, value by value', async () => {
    const checks = await verifyBots(env.config, env.runtime.pg);
    assert.deepEqual(
      checks.map((c) => [c.bot, c.ok, c.error]),
      ['generated', ...versions.map(([name]) => name)].sort().map((n) => [n, true, undefined]),
    );
    const newest = checks.find((c) => c.bot === 'v2025')!;
    assert.deepEqual([newest.trades?.target.count, newest.orders?.target.count], [75, newestOrders]);
  });

  it('names a changed value in PostgreSQL by table, key and column', async () => {
    await env.db.pool.query(
      `UPDATE trades_aggregated SET close_profit_abs = close_profit_abs + 0.00000001
       WHERE trade_id = 3 AND bot_id = (SELECT id FROM bots WHERE instance_id = 'v2021')`,
    );
    const [check] = await verifyBots(env.config, env.runtime.pg, ['v2021']);
    assert.equal(check?.ok, false);
    assert.equal(check?.trades?.source.count, check?.trades?.target.count, 'same count');
    assert.equal(check?.trades?.differences, 1);
    assert.equal(check?.orders?.ok, true);
    const [difference] = check?.differences?.first ?? [];
    assert.deepEqual(
      [difference?.table, difference?.key, difference?.column],
      ['trades_aggregated', 'trade_id=3', 'close_profit_abs'],
    );
  });

  it('reports a missing order and an unsynced source change, and is equal again after a sync', async () => {
    await env.db.pool.query(
      `DELETE FROM orders WHERE order_pk = 2 AND bot_id = (SELECT id FROM bots WHERE instance_id = 'generated')`,
    );
    const db = new Database(botDbPath(dir.path, 'generated'));
    db.prepare('UPDATE trades SET amount = amount * 2 WHERE id = 10').run();
    db.close();
    const [before] = await verifyBots(env.config, env.runtime.pg, ['generated']);
    assert.equal(before?.ok, false);
    assert.deepEqual([before?.orders?.source.count, before?.orders?.target.count], [1000, 999]);
    assert.equal(before?.trades?.ok, false);
    await syncBot(recordingContext(env.runtime), 'generated', { full: true });
    const [after] = await verifyBots(env.config, env.runtime.pg, ['generated']);
    assert.equal(after?.ok, true);
  });

  it('names a bot whose database is gone', async () => {
    const [check] = await verifyBots(env.config, env.runtime.pg, ['ghost']);
    assert.equal(check?.ok, false);
    assert.match(check?.error ?? '', /bot ghost: no tradesv3\.sqlite/);
  });

  it(
    'finds the real FreqTrade databases of ../shared/fixtures equal once synced, and names a changed value',
    { skip: FIXTURES_SKIP },
    async () => {
      const names = Object.keys(FIXTURE_FILES) as FixtureName[];
      for (const name of names) {
        installFixture(dir.path, `real-${name}`, name);
        await syncBot(recordingContext(env.runtime), `real-${name}`);
      }
      const checks = await verifyBots(
        env.config,
        env.runtime.pg,
        names.map((n) => `real-${n}`),
      );
      assert.deepEqual(checks.map((c) => [c.bot, c.ok]).sort(), names.map((n) => [`real-${n}`, true]).sort());
      // One value changed behind the sync's back is named.
      await env.db.pool.query(
        `UPDATE orders SET ft_is_open = NOT ft_is_open WHERE order_pk = 1
         AND bot_id = (SELECT id FROM bots WHERE instance_id = 'real-germoso')`,
      );
      const [changed] = await verifyBots(env.config, env.runtime.pg, ['real-germoso']);
      assert.equal(changed?.ok, false);
      assert.deepEqual(
        changed?.differences?.first.map((d) => [d.table, d.key, d.column, d.source === d.stored]),
        [['orders', 'order_pk=1', 'ft_is_open', false]],
      );
    },
  );
});
