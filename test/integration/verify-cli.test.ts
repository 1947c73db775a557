import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Document } from 'mongodb';
import { canonicalDecimal } from '../../src/verify/canonical-decimal.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../../scripts/freqtrade/fixtures.js';
import { snapshotDoc, userDoc, withoutDecimal128 } from '../../scripts/mongo/documents.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestMongo, type TestMongo } from '../helpers/test-mongo.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

interface Report {
  ok: boolean;
  bots: Array<{ bot: string; ok: boolean }>;
  mongo: Array<{ collection: string; sourceCount: number; target: number; rejected: number; ok: boolean }>;
  skipped: string[];
}

describe('ctp-etl verify: the cutover checklist as a command', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let mongo: TestMongo;
  const dir = tempDir('verify-cli');
  let cli: NodeJS.ProcessEnv;
  let botOneOrders = 0;

  before(async () => {
    mongo = await createTestMongo('verify_cli');
    env = await createTestEnvironment('verify_cli', { BOT_INSTANCES_DIR: dir.path, MONGO_URL: mongo.url });
    cli = cliEnv(env.config, {
      BOT_INSTANCES_DIR: dir.path,
      MONGO_URL: mongo.url,
      LOG_LEVEL: 'warn',
      IMPORT_MAX_REJECT_RATIO: '0.2',
    });
    botOneOrders = createBotDatabase(botDbPath(dir.path, 'bot-one'), {
      trades: 75,
      tradingMode: 'futures',
      seed: 8,
    }).orders;
    createBotDatabase(botDbPath(dir.path, 'bot-two'), { version: 'S05', trades: 106, seed: 9 });
    const users = Array.from({ length: 12 }, (_, i) => userDoc(i + 1));
    delete users[4]!.email; // user 5 cannot be mapped: a recorded reject
    await mongo.db.collection('users').insertMany(users.map((d) => withoutDecimal128(d) as Document));
    await mongo.db
      .collection('portfoliosnapshots')
      .insertMany(Array.from({ length: 30 }, (_, i) => withoutDecimal128(snapshotDoc(i + 1, 1 + (i % 4))) as Document));
    for (const args of [
      ['run', 'bot-sync', '--all'],
      ['run', 'mongo-import', '--collection', 'all'],
    ]) {
      const run = await runCli(args, cli);
      assert.equal(run.code, 0, run.output);
    }
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    await mongo.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('exits 0 with every bot and collection matching, rejects accounted for', async () => {
    const run = await runCli(['verify', '--json'], cli);
    assert.equal(run.code, 0, run.output);
    const report = JSON.parse(run.output) as Report;
    assert.deepEqual(
      report.bots.map((b) => [b.bot, b.ok]),
      [
        ['bot-one', true],
        ['bot-two', true],
      ],
    );
    assert.deepEqual(
      report.mongo.map((m) => [m.collection, m.sourceCount, m.target, m.rejected, m.ok]),
      [
        ['users', 12, 11, 1, true],
        ['portfoliosnapshots', 30, 30, 0, true],
      ],
    );
    const table = await runCli(['verify'], cli);
    // The other tables' rows in all (locks, custom data, balances, key-value store): as many in PostgreSQL as in the file.
    assert.match(
      table.output,
      new RegExp(
        `bot-one\\s+75\\s+75\\s+${botOneOrders}\\s+${botOneOrders}\\s+([1-9]\\d*)/\\1\\s+equal\\s+equal\\s+ok`,
      ),
    );
    assert.match(table.output, /verify: everything matches/);
  });

  it('names each differing value below the bots table, at most --show-differences of them, and exits 1', async () => {
    const bot = `(SELECT id FROM bots WHERE instance_id = 'bot-one')`;
    const saved = await env.db.pool.query<{ stop_loss: string; ft_is_open: boolean; extra: string }>(
      `SELECT t.stop_loss::text AS stop_loss, o.ft_is_open, o.extra::text AS extra
       FROM trades_aggregated t, orders o WHERE t.bot_id = ${bot} AND t.trade_id = 3 AND o.bot_id = ${bot} AND o.order_pk = 5`,
    );
    const before = saved.rows[0]!;
    await env.db.pool.query(
      `UPDATE trades_aggregated SET stop_loss = stop_loss + 0.5 WHERE bot_id = ${bot} AND trade_id = 3`,
    );
    await env.db.pool.query(
      `UPDATE orders SET ft_is_open = NOT ft_is_open, extra = extra || '{"note": 1}' WHERE bot_id = ${bot} AND order_pk = 5`,
    );
    // bot-one has no config.json: its registry row says nothing of dry-run.
    await env.db.pool.query(`UPDATE bots SET dry_run = true WHERE id = ${bot}`);
    try {
      const run = await runCli(
        ['verify', '--no-mongo', '--no-turso', '--bot', 'bot-one', '--show-differences', '2'],
        cli,
      );
      assert.equal(run.code, 1, run.output);
      const stopLoss = canonicalDecimal(before.stop_loss);
      const moved = canonicalDecimal((Number(before.stop_loss) + 0.5).toString());
      assert.match(run.output, /bot-one\s+75\s+75\s+\d+\s+\d+\s+(\d+)\/\1\s+4 differ\s+1 differ\s+MISMATCH/);
      const lines = run.output.split('\n').filter((line) => line.startsWith('bot bot-one: '));
      assert.deepEqual(lines, [
        `bot bot-one: trades_aggregated trade_id=3 stop_loss: source "${stopLoss}", stored "${moved}"`,
        `bot bot-one: orders order_pk=5 ft_is_open: source "${before.ft_is_open ? 't' : 'f'}", stored "${before.ft_is_open ? 'f' : 't'}"`,
      ]);
      assert.match(run.output, /4 value\(s\) differ \(first 2 shown; --show-differences N for more\)/);
      const json = await runCli(['verify', '--no-mongo', '--no-turso', '--bot', 'bot-one', '--json'], cli);
      assert.equal(json.code, 1);
      const report = JSON.parse(json.output) as {
        differences: { total: number; first: Array<Record<string, unknown>> };
      };
      assert.equal(report.differences.total, 4);
      assert.deepEqual(report.differences.first[2], {
        bot: 'bot-one',
        table: 'orders',
        key: 'order_pk=5',
        column: 'extra.note',
        source: null,
        stored: '1',
      });
      assert.deepEqual(report.differences.first[3], {
        bot: 'bot-one',
        table: 'bots',
        key: 'instance_id=bot-one',
        column: 'dry_run',
        source: null,
        stored: 'true',
      });
      const bad = await runCli(['verify', '--show-differences', 'many'], cli);
      assert.notEqual(bad.code, 0);
      assert.match(bad.output, /--show-differences: many is not a count/);
    } finally {
      await env.db.pool.query(`UPDATE trades_aggregated SET stop_loss = $1 WHERE bot_id = ${bot} AND trade_id = 3`, [
        before.stop_loss,
      ]);
      await env.db.pool.query(`UPDATE orders SET ft_is_open = $1, extra = $2 WHERE bot_id = ${bot} AND order_pk = 5`, [
        before.ft_is_open,
        before.extra,
      ]);
      await env.db.pool.query(`UPDATE bots SET dry_run = NULL WHERE id = ${bot}`);
    }
  });

  it('exits 1 and names the mismatch when PostgreSQL lost rows', async () => {
    await env.db.pool.query(
      `DELETE FROM trades_aggregated WHERE trade_id = 7 AND bot_id = (SELECT id FROM bots WHERE instance_id = 'bot-two')`,
    );
    await env.db.pool.query(`DELETE FROM portfolio_snapshots WHERE id = (SELECT min(id) FROM portfolio_snapshots)`);
    const run = await runCli(['verify'], cli);
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /bot-two\s+106\s+105\s+.*MISMATCH/);
    assert.match(run.output, /portfoliosnapshots\s+mongodb:\S+\s+30\s+29\s+0\s+MISMATCH/);
    assert.match(run.output, /bot-one\s+.*\s+ok/);
  });

  it('compares with an export file instead of live MongoDB, and skips what it is told to', async () => {
    const file = path.join(dir.path, 'users.json');
    writeFileSync(
      file,
      '{"_id":{"$oid":"65a000000000000000000001"},"email":"user1@example.com"}\n{"_id":{"$oid":"65a000000000000000000002"},"email":"user2@example.com"}\n',
    );
    const run = await runCli(['verify', '--no-bots', '--users-file', file, '--json'], cli);
    const report = JSON.parse(run.output) as Report;
    assert.equal(run.code, 1, 'two documents in the file, twelve users in PostgreSQL');
    assert.deepEqual(
      report.mongo.map((m) => [m.collection, m.sourceCount, m.target]),
      [
        ['users', 2, 11],
        ['portfoliosnapshots', 30, 29],
      ],
    );
    assert.deepEqual(report.bots, []);
    assert.deepEqual(report.skipped, ['bots (--no-bots)']);
  });
});
