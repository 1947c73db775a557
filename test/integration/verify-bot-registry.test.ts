import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import type { ValueDifference } from '../../src/verify/differences.js';
import { verifyBots, type BotCheck } from '../../src/verify/verify-bots.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A FreqTrade config as operators write it: a comment, a trailing comma, a secret the registry never holds. */
const configText = (settings: { strategy?: string; maxOpenTrades: number; pairs: string[]; dryRun: boolean }): string =>
  `{
  // the operator's name for the bot
  "bot_name": "Registry One",
  ${settings.strategy === undefined ? '' : `"strategy": "${settings.strategy}",`}
  "dry_run": ${settings.dryRun},
  "stake_currency": "USDT",
  "max_open_trades": ${settings.maxOpenTrades},
  "trading_mode": "spot",
  "exchange": {"name": "binance", "key": "not-for-the-registry", "pair_whitelist": ${JSON.stringify(settings.pairs)},},
}`;

const FIRST = { strategy: 'ConfigStrategy', maxOpenTrades: 3, pairs: ['BTC/USDT', 'ETH/USDT'], dryRun: false };

/** A difference as the report names it: table, key, column, source value, stored value. */
const named = (d: ValueDifference): [string, string, string, string | null, string | null] => [
  d.table,
  d.key,
  d.column,
  d.source,
  d.stored,
];

describe('verify: the bot registry against each bot’s config.json', () => {
  const dir = tempDir('verify-bot-registry');
  const env = suiteEnvironment('verify_bot_registry', { BOT_INSTANCES_DIR: dir.path }, { dir });
  const configFile = path.join(dir.path, 'configured', 'config.json');

  const verifyOne = async (bot: string): Promise<BotCheck> => {
    const [check] = await verifyBots(env.config, env.runtime.pg, [bot], 100);
    assert.ok(check, `bot ${bot} is checked`);
    assert.equal(check.error, undefined);
    return check;
  };
  const sync = (bot: string, full = false): Promise<unknown> => syncBot(recordingContext(env.runtime), bot, { full });
  const storedStrategy = async (bot: string): Promise<string | null | undefined> =>
    (
      await env.db.pool.query<{ strategy_name: string | null }>(
        'SELECT strategy_name FROM bots WHERE instance_id = $1',
        [bot],
      )
    ).rows[0]?.strategy_name;

  before(async () => {
    createFreqtradeDb(botDbPath(dir.path, 'configured'), { trades: 4, ordersPerTrade: 1, seed: 31 });
    writeFileSync(configFile, configText(FIRST));
    createFreqtradeDb(botDbPath(dir.path, 'bare'), { trades: 12, ordersPerTrade: 1, seed: 32 }); // one deleted stays under the reset guard
    await sync('configured');
    await sync('bare');
  });

  it('finds a synced bot’s registry row equal to its config.json', async () => {
    const check = await verifyOne('configured');
    assert.deepEqual(check.registry, { differences: 0, ok: true });
    assert.equal(check.ok, true);
  });

  it('names each registry column changed in PostgreSQL, with the config’s value and the stored one', async () => {
    await env.db.pool.query(
      `UPDATE bots SET name = 'renamed', strategy_name = 'OtherStrategy', trading_pairs = '["XRP/USDT"]',
              dry_run = true, config = jsonb_set(config, '{max_open_trades}', '7')
       WHERE instance_id = 'configured'`,
    );
    const check = await verifyOne('configured');
    assert.equal(check.ok, false);
    assert.deepEqual(check.registry, { differences: 5, ok: false });
    assert.equal(check.trades?.ok, true, 'the trades are untouched');
    assert.deepEqual(check.differences?.first.map(named), [
      ['bots', 'instance_id=configured', 'name', 'Registry One', 'renamed'],
      ['bots', 'instance_id=configured', 'strategy_name', 'ConfigStrategy', 'OtherStrategy'],
      ['bots', 'instance_id=configured', 'dry_run', 'false', 'true'],
      ['bots', 'instance_id=configured', 'trading_pairs', '["BTC/USDT","ETH/USDT"]', '["XRP/USDT"]'],
      ['bots', 'instance_id=configured', 'config.max_open_trades', '3', '7'],
    ]);
    await sync('configured');
    assert.equal((await verifyOne('configured')).ok, true, 'the next sync writes the row back');
  });

  it('names a config.json edited after the sync, and is equal again once the bot is synced', async () => {
    writeFileSync(configFile, configText({ ...FIRST, maxOpenTrades: 5, pairs: ['BTC/USDT'], dryRun: true }));
    const check = await verifyOne('configured');
    assert.equal(check.ok, false);
    assert.deepEqual(check.differences?.first.map(named), [
      ['bots', 'instance_id=configured', 'dry_run', 'true', 'false'],
      ['bots', 'instance_id=configured', 'trading_pairs', '["BTC/USDT"]', '["BTC/USDT","ETH/USDT"]'],
      ['bots', 'instance_id=configured', 'config.dry_run', 'true', 'false'],
      [
        'bots',
        'instance_id=configured',
        'config.exchange',
        '{"name":"binance","pair_whitelist":["BTC/USDT"]}',
        '{"name":"binance","pair_whitelist":["BTC/USDT","ETH/USDT"]}',
      ],
      ['bots', 'instance_id=configured', 'config.max_open_trades', '5', '3'],
    ]);
    await sync('configured');
    assert.equal((await verifyOne('configured')).ok, true);
  });

  it('a config that stops naming a strategy: the row takes the latest trade’s, and verify expects it', async () => {
    writeFileSync(configFile, configText({ ...FIRST, strategy: undefined }));
    const stale = await verifyOne('configured');
    assert.deepEqual(
      stale.differences?.first.filter((d) => d.column === 'strategy_name').map(named),
      [['bots', 'instance_id=configured', 'strategy_name', 'SampleStrategy', 'ConfigStrategy']],
      'before the sync the row still holds the strategy the config named',
    );
    await sync('configured');
    const { rows } = await env.db.pool.query<{ strategy_name: string | null }>(
      `SELECT strategy_name FROM bots WHERE instance_id = 'configured'`,
    );
    assert.deepEqual(rows, [{ strategy_name: 'SampleStrategy' }], "the generated trades' strategy");
    assert.equal((await verifyOne('configured')).ok, true);
  });

  it('a bot without config.json takes its latest trade’s strategy, also once that trade is deleted', async () => {
    const file = botDbPath(dir.path, 'bare');
    const latest = 'SELECT id FROM trades ORDER BY open_date DESC, id DESC LIMIT 1';
    const edit = (sql: string): void => {
      const db = new Database(file);
      db.exec(sql);
      db.close();
    };
    edit(`UPDATE trades SET strategy = 'LateStrategy' WHERE id = (${latest})`);
    await sync('bare', true); // an edit to a closed trade is found by a full compare
    assert.equal(await storedStrategy('bare'), 'LateStrategy');
    assert.equal((await verifyOne('bare')).ok, true);
    // As FreqTrade deletes a trade (Trade.delete): its orders and custom data with it.
    edit(
      ['orders', 'trade_custom_data'].map((table) => `DELETE FROM ${table} WHERE ft_trade_id = (${latest});`).join('') +
        `DELETE FROM trades WHERE id = (${latest});`,
    );
    await sync('bare');
    assert.equal(await storedStrategy('bare'), 'SampleStrategy', 'the strategy of the trade that is now the latest');
    assert.equal((await verifyOne('bare')).ok, true);
  });

  it('a bot without config.json: verify expects NULLs and names any value stored instead', async () => {
    const bare = await verifyOne('bare');
    assert.deepEqual([bare.ok, bare.registry?.ok], [true, true]);
    await env.db.pool.query(
      `UPDATE bots SET trading_pairs = '[]', config = '{}', dry_run = true, name = 'a default'
       WHERE instance_id = 'bare'`,
    );
    const check = await verifyOne('bare');
    assert.equal(check.ok, false);
    assert.deepEqual(check.differences?.first.map(named), [
      ['bots', 'instance_id=bare', 'name', 'bare', 'a default'],
      ['bots', 'instance_id=bare', 'dry_run', null, 'true'],
      ['bots', 'instance_id=bare', 'trading_pairs', null, '[]'],
      ['bots', 'instance_id=bare', 'config', null, '{}'],
    ]);
  });
});
