import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { ALL_SCHEMA_VERSIONS, SCHEMA_VERSIONS, type SchemaVersion } from '../../scripts/freqtrade/schemas.js';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import {
  ordersMapping,
  otherMappings,
  tradesMapping,
  type TableMapping,
} from '../../src/bot-sync/freqtrade-columns.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { canonicalDate } from '../../src/verify/bot-rows.js';
import { canonicalDecimal } from '../../src/verify/canonical-decimal.js';
import { verifyBots, type BotCheck } from '../../src/verify/verify-bots.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

const futures = (version: SchemaVersion): boolean => version >= 'S07' && Number(version.slice(1)) % 2 === 1;
const botOf = (version: SchemaVersion): string => `values-${version.toLowerCase()}`;

/**
 * Values a sync must keep exactly and verify must not call different: a tiny and an inexact float,
 * NULL next to '', booleans written as text, dates with 9 fraction digits (rounded by PostgreSQL,
 * half to even, one carried into the next day), and extra columns holding JSON text, a 2^60 integer,
 * a float and a blob.
 */
function plantAwkwardValues(file: string): void {
  const db = new Database(file);
  try {
    // Older schemas CHECK their booleans to be 0 or 1; such a value is what this plants.
    db.pragma('ignore_check_constraints = ON');
    const columns = (table: string): Set<string> =>
      new Set(
        (db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all() as Array<{ name: string }>).map(
          (c) => c.name,
        ),
      );
    const trades = columns('trades');
    db.exec(`ALTER TABLE trades ADD COLUMN custom_note TEXT`);
    db.exec(`ALTER TABLE trades ADD COLUMN custom_big INTEGER`);
    db.exec(`ALTER TABLE trades ADD COLUMN custom_float REAL`);
    db.exec(`ALTER TABLE trades ADD COLUMN custom_blob BLOB`);
    db.prepare(
      `UPDATE trades SET stop_loss = 1e-8, amount = 0.1 + 0.2, close_rate = NULL, open_date = '2024-01-02 03:04:05.123456789',
       close_date = '2024-12-31T23:59:59.9999996', custom_note = '{"b": 1, "a": [1e-8, "x"]}', custom_big = 1152921504606846976,
       custom_float = 0.1 + 0.2, custom_blob = x'00ff'${trades.has('exit_reason') ? ", exit_reason = ''" : ''}${
         trades.has('is_short') ? ", is_short = 't'" : ''
       } WHERE id = 2`,
    ).run();
    db.prepare(`UPDATE trades SET open_date = '2024-01-02 03:04:05.0000005', is_open = '1' WHERE id = 3`).run();
    if (columns('orders').has('ft_is_open')) db.prepare(`UPDATE orders SET ft_is_open = 'true' WHERE id = 1`).run();
    // A row in each other table the version has (few trades may leave pairlocks and custom data empty).
    const planted: Record<string, Record<string, unknown>> = {
      pairlocks: {
        id: 100,
        pair: 'ETH/USDT',
        side: 'long',
        reason: 'Auto lock',
        lock_time: '2024-01-02 03:04:05.123456789',
        lock_end_time: '2024-01-02 03:05:00',
        active: 1,
      },
      trade_custom_data: {
        id: 100,
        ft_trade_id: 2,
        cd_key: 'atr',
        cd_type: 'float',
        cd_value: '0.30000000000000004',
        created_at: '2024-01-02 03:04:05.5',
        updated_at: null,
      },
    };
    for (const [table, row] of Object.entries(planted)) {
      const have = columns(table);
      if (have.size === 0) continue;
      const names = Object.keys(row).filter((c) => have.has(c));
      db.prepare(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`).run(
        names.map((c) => row[c]),
      );
    }
  } finally {
    db.close();
  }
}

/** A change of one value in PostgreSQL, whatever its kind; NULL becomes a value ('' for text). */
function changed(mapping: TableMapping, column: string): string {
  if (column === 'trade_id' && mapping === ordersMapping)
    return `(SELECT min(t.trade_id) FROM trades_aggregated t WHERE t.bot_id = orders.bot_id AND t.trade_id <> orders.trade_id)`;
  switch (mapping.columns[column]) {
    case 'numeric':
      return `COALESCE("${column}" + 0.000000000001, 1)`;
    case 'int':
      return `COALESCE("${column}" + 1, 1)`;
    case 'bool':
      return `COALESCE(NOT "${column}", true)`;
    case 'date':
      return `COALESCE("${column}" + interval '1 microsecond', '2020-01-01')`;
    default:
      return `COALESCE(left("${column}", 8) || 'x', '')`;
  }
}

/** A stored value as verify spells it. */
function asVerifySpells(mapping: TableMapping, column: string): string {
  const kind = mapping.columns[column];
  return kind === 'date'
    ? `to_char("${column}" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')`
    : kind === 'bool'
      ? `CASE "${column}" WHEN true THEN 't' WHEN false THEN 'f' END`
      : `"${column}"::text`;
}

function hasTable(file: string, table: string): boolean {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
  } finally {
    db.close();
  }
}

/** How many of the four other tables a version has (fixtures/README.md): pairlocks since S05, KeyValueStore since S09, trade_custom_data since S11, wallet_history in S13. */
function otherTablesOf(version: SchemaVersion): number {
  const n = Number(version.slice(1));
  return (n >= 5 ? 1 : 0) + (n >= 9 ? 1 : 0) + (n >= 11 ? 1 : 0) + (n >= 13 ? 1 : 0);
}

const canonical = (mapping: TableMapping, column: string, text: string | null): string | null =>
  text !== null && ['numeric', 'int'].includes(mapping.columns[column] ?? '') ? canonicalDecimal(text) : text;

describe('verify compares every value bot-sync writes, on every FreqTrade schema version', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let client: PoolClient;
  const dir = tempDir('verify-bot-values');

  before(async () => {
    env = await createTestEnvironment('verify_bot_values', { BOT_INSTANCES_DIR: dir.path });
    client = await env.db.pool.connect();
    await client.query("SET TIME ZONE 'UTC'");
    for (const [i, version] of ALL_SCHEMA_VERSIONS.entries()) {
      const file = botDbPath(dir.path, botOf(version));
      createBotDatabase(file, { version, trades: 6, seed: 70 + i, tradingMode: futures(version) ? 'futures' : 'spot' });
      plantAwkwardValues(file);
      await syncBot(recordingContext(env.runtime), botOf(version));
    }
  });

  after(async () => {
    client.release();
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  const verifyOne = async (bot: string): Promise<BotCheck> => {
    const [check] = await verifyBots(env.config, env.runtime.pg, [bot]);
    assert.ok(check, bot);
    return check;
  };

  it('finds every unchanged synced version equal: no false alarm on awkward values', async () => {
    const checks = await verifyBots(env.config, env.runtime.pg, ALL_SCHEMA_VERSIONS.map(botOf));
    for (const check of checks) {
      assert.equal(check.error, undefined, check.bot);
      assert.deepEqual(check.differences, { total: 0, first: [] }, check.bot);
      assert.equal(check.ok, true, check.bot);
      assert.equal(check.trades?.source.count, 6, check.bot);
    }
  });

  for (const version of ALL_SCHEMA_VERSIONS) {
    it(`${version} (FreqTrade ${SCHEMA_VERSIONS[version]}): one value changed in PostgreSQL, any column or extra key, is named`, async () => {
      const bot = botOf(version);
      const { rows: ids } = await client.query<{ id: string }>('SELECT id FROM bots WHERE instance_id = $1', [bot]);
      const botId = ids[0]!.id;
      let checked = 0;
      const others: Array<readonly [TableMapping, number]> = [];
      for (const mapping of otherMappings) {
        if (!hasTable(botDbPath(dir.path, bot), mapping.source)) continue;
        const { rows } = await client.query<{ key: number }>(
          `SELECT min("${mapping.key.target}") AS key FROM ${mapping.target} WHERE bot_id = $1`,
          [botId],
        );
        assert.ok(rows[0]?.key !== null, `${bot} ${mapping.target} holds rows`);
        others.push([mapping, rows[0]!.key]);
      }
      assert.equal(others.length, otherTablesOf(version), `${bot}: the other tables its version has`);
      for (const [mapping, key] of [[tradesMapping, 2] as const, [ordersMapping, 3] as const, ...others]) {
        // The oldest schemas have no orders table.
        if (mapping === ordersMapping && !hasTable(botDbPath(dir.path, bot), 'orders')) continue;
        const where = `bot_id = $1 AND "${mapping.key.target}" = ${key}`;
        const label = `${bot} ${mapping.target} ${mapping.key.target}=${key}`;
        for (const column of Object.keys(mapping.columns)) {
          const read = `SELECT "${column}"::text AS saved, ${asVerifySpells(mapping, column)} AS spelled FROM ${mapping.target} WHERE ${where}`;
          const before = (await client.query<{ saved: string | null; spelled: string | null }>(read, [botId])).rows[0];
          assert.ok(before, label);
          await client.query(`UPDATE ${mapping.target} SET "${column}" = ${changed(mapping, column)} WHERE ${where}`, [
            botId,
          ]);
          const now = (await client.query<{ spelled: string | null }>(read, [botId])).rows[0]!;
          const check = await verifyOne(bot);
          await client.query(`UPDATE ${mapping.target} SET "${column}" = $2 WHERE ${where}`, [botId, before.saved]);
          assert.equal(check.ok, false, `${label} ${column}`);
          assert.equal(check.bot, bot);
          assert.deepEqual(
            check.differences,
            {
              total: 1,
              first: [
                {
                  table: mapping.target,
                  key: `${mapping.key.target}=${key}`,
                  column,
                  source: canonical(mapping, column, before.spelled),
                  stored: canonical(mapping, column, now.spelled),
                },
              ],
            },
            `${label} ${column}`,
          );
          checked += 1;
        }
        const { rows } = await client.query<{ extra: Record<string, unknown>; saved: string }>(
          `SELECT extra, extra::text AS saved FROM ${mapping.target} WHERE ${where}`,
          [botId],
        );
        const extraKeys = Object.keys(rows[0]!.extra);
        if (mapping === tradesMapping)
          assert.ok(extraKeys.includes('custom_big') && extraKeys.includes('custom_blob'), `${label} extra`);
        for (const name of [...extraKeys, 'not_in_source']) {
          await client.query(
            `UPDATE ${mapping.target} SET extra = extra || jsonb_build_object($2::text, 'changed') WHERE ${where}`,
            [botId, name],
          );
          const check = await verifyOne(bot);
          await client.query(`UPDATE ${mapping.target} SET extra = $2 WHERE ${where}`, [botId, rows[0]!.saved]);
          assert.equal(check.ok, false, `${label} extra.${name}`);
          const [difference] = check.differences?.first ?? [];
          assert.equal(check.differences?.total, 1, `${label} extra.${name}`);
          assert.deepEqual(
            [difference?.table, difference?.key, difference?.column, difference?.stored],
            [mapping.target, `${mapping.key.target}=${key}`, `extra.${name}`, '"changed"'],
          );
          assert.notEqual(difference?.source, '"changed"');
          if (name === 'not_in_source') assert.equal(difference?.source, null);
          checked += 1;
        }
      }
      assert.ok(checked > 40, `${bot}: ${checked} values changed one at a time`);
      assert.equal((await verifyOne(bot)).ok, true, `${bot} restored`);
    });
  }

  it("spells a FreqTrade date as PostgreSQL stores it: rounded to microseconds as PostgreSQL's input rounds", async () => {
    const dates = [
      '2024-01-02 03:04:05',
      '2024-01-02T03:04:05.1',
      '2024-01-02 03:04:05.123456',
      '2024-01-02 03:04:05.1234565',
      '2024-01-02 03:04:05.1234575',
      '2024-01-02 03:04:05.0000005',
      '2024-01-02 03:04:05.0000015',
      '2024-01-02 03:04:05.123456789',
      '2024-02-28 23:59:59.9999995',
      '2024-12-31 23:59:59.9999996',
      '0999-12-31 23:59:59.99999951',
    ];
    const { rows } = await client.query<{ stored: string }>(
      `SELECT to_char(d::timestamp, 'YYYY-MM-DD HH24:MI:SS.US') AS stored FROM unnest($1::text[]) WITH ORDINALITY AS x(d, n) ORDER BY n`,
      [dates],
    );
    assert.deepEqual(
      dates.map(canonicalDate),
      rows.map((r) => r.stored),
    );
  });

  it('names a row deleted in PostgreSQL and a row PostgreSQL has that the source has not', async () => {
    const bot = botOf('S13');
    const { rows: ids } = await client.query<{ id: string }>('SELECT id FROM bots WHERE instance_id = $1', [bot]);
    const botId = ids[0]!.id;
    await client.query('CREATE TEMP TABLE deleted_order AS SELECT * FROM orders WHERE bot_id = $1 AND order_pk = 4', [
      botId,
    ]);
    await client.query('DELETE FROM orders WHERE bot_id = $1 AND order_pk = 4', [botId]);
    await client.query(
      `INSERT INTO trades_aggregated (bot_id, trade_id, pair, is_open, extra, row_hash)
       SELECT bot_id, 1000, pair, is_open, extra, row_hash FROM trades_aggregated WHERE bot_id = $1 AND trade_id = 1`,
      [botId],
    );
    const check = await verifyOne(bot);
    await client.query('DELETE FROM trades_aggregated WHERE bot_id = $1 AND trade_id = 1000', [botId]);
    await client.query('INSERT INTO orders SELECT * FROM deleted_order');
    assert.equal(check.ok, false);
    assert.deepEqual(check.differences, {
      total: 2,
      first: [
        { table: 'trades_aggregated', key: 'trade_id=1000', column: '(row)', source: null, stored: 'present' },
        { table: 'orders', key: 'order_pk=4', column: '(row)', source: 'present', stored: null },
      ],
    });
    assert.deepEqual([check.trades?.source.count, check.trades?.target.count, check.trades?.differences], [6, 7, 1]);
    assert.equal(check.orders?.target.count, (check.orders?.source.count ?? 0) - 1);
    assert.equal((await verifyOne(bot)).ok, true, 'restored');
  });
});
