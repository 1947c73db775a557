import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient } from '@libsql/client';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath } from '../../scripts/freqtrade/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

interface Report {
  ok: boolean;
  bots: Array<{ bot: string; ok: boolean }>;
  turso: Array<{
    bot: string;
    target: string;
    ok: boolean;
    tables: Array<{ table: string; source: { count: number }; target?: { count: number }; ok: boolean }>;
    differences?: { total: number; first: Array<{ table: string; key: string; column: string }> };
  }>;
  skipped: string[];
}

describe('ctp-etl verify: the bots Turso backups, the third store', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  const dir = tempDir('verify-turso');
  let cli: NodeJS.ProcessEnv;
  const targetUrl = (bot: string) => `file:${path.join(env.config.TURSO_FILE_DIR, `${bot}.db`)}`;

  const verify = async (...args: string[]) => {
    const run = await runCli(['verify', '--no-mongo', ...args], cli);
    return { ...run, report: args.includes('--json') ? (JSON.parse(run.output) as Report) : undefined };
  };

  before(async () => {
    const targets = path.join(dir.path, '..', `${path.basename(dir.path)}-targets`);
    env = await createTestEnvironment('verify_turso', { BOT_INSTANCES_DIR: dir.path, TURSO_FILE_DIR: targets });
    cli = cliEnv(env.config, { BOT_INSTANCES_DIR: dir.path, TURSO_FILE_DIR: targets, LOG_LEVEL: 'warn' });
    for (const [bot, seed] of [
      ['bot-backed', 3],
      ['bot-other', 4],
    ] as const) {
      createBotDatabase(botDbPath(dir.path, bot), { trades: 40, seed });
      writeFileSync(
        path.join(dir.path, bot, 'sync-config.json'),
        JSON.stringify({ tursoUrl: targetUrl(bot), enabled: true }),
      );
    }
    // A bot without a backup: verified against PostgreSQL only, and listed as not checked.
    createBotDatabase(botDbPath(dir.path, 'bot-plain'), { trades: 5, seed: 5 });
    mkdirSync(env.config.TURSO_FILE_DIR, { recursive: true });
    for (const args of [
      ['run', 'bot-sync', '--all'],
      ['run', 'turso-push', '--all'],
    ]) {
      const run = await runCli(args, cli);
      assert.equal(run.code, 0, run.output);
    }
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) {
      dir.remove();
      rmSync(env.config.TURSO_FILE_DIR, { recursive: true, force: true });
    }
  });

  it('reports every table of each backup beside SQLite against PostgreSQL, all equal', async () => {
    const { code, output, report } = await verify('--json');
    assert.equal(code, 0, output);
    assert.deepEqual(report!.bots.map((b) => [b.bot, b.ok]).sort(), [
      ['bot-backed', true],
      ['bot-other', true],
      ['bot-plain', true],
    ]);
    assert.deepEqual(report!.turso.map((t) => [t.bot, t.ok]).sort(), [
      ['bot-backed', true],
      ['bot-other', true],
    ]);
    const trades = report!.turso.find((t) => t.bot === 'bot-backed')!.tables.find((t) => t.table === 'trades')!;
    assert.deepEqual([trades.source.count, trades.target?.count], [40, 40]);
    assert.ok(report!.skipped.includes('turso bot-plain (no sync-config.json)'), report!.skipped.join('; '));
    const table = await verify();
    assert.match(table.output, /bot-backed\s+turso file:\S+bot-backed\.db\s+trades\s+40\s+40\s+equal\s+ok/);
  });

  it('exits 1 naming bot, store and table when a row was deleted or edited in the backup', async () => {
    const client = createClient({ url: targetUrl('bot-backed') });
    let edited: { tradeId: string; pair: string; orderId: string };
    try {
      const trade = (await client.execute('SELECT id, pair FROM trades ORDER BY id LIMIT 1')).rows[0]!;
      const order = (await client.execute('SELECT max(id) AS id FROM orders')).rows[0]!;
      edited = { tradeId: String(trade.id), pair: String(trade.pair), orderId: String(order.id) };
      await client.execute('DELETE FROM orders WHERE id = (SELECT max(id) FROM orders)');
      await client.execute("UPDATE trades SET pair = 'EDITED/USDT' WHERE id = (SELECT min(id) FROM trades)");
    } finally {
      client.close();
    }
    const { code, output } = await verify();
    assert.equal(code, 1, output);
    assert.match(output, /bot-backed\s+turso file:\S+bot-backed\.db\s+orders\s+(\d+)\s+(?!\1)\d+\s+differ\s+MISMATCH/);
    assert.match(output, /bot-backed\s+turso file:\S+bot-backed\.db\s+trades\s+40\s+40\s+differ\s+MISMATCH/);
    assert.match(output, /bot-other\s+turso \S+\s+trades\s+40\s+40\s+equal\s+ok/);
    assert.match(output, /verify: MISMATCH/);
    // Each difference named down to its key and column, with both values.
    assert.ok(
      output.includes(
        `turso bot-backed: trades id=${edited.tradeId} pair: source ${JSON.stringify(edited.pair)}, stored "EDITED/USDT"`,
      ),
      output,
    );
    assert.ok(
      output.includes(`turso bot-backed: orders id=${edited.orderId} (row): source "present", stored NULL`),
      output,
    );
    const json = await verify('--json', '--bot', 'bot-backed');
    const named = json.report!.turso[0]!.differences!;
    assert.equal(named.total, 2, JSON.stringify(named));

    const skipping = await verify('--no-turso', '--json');
    assert.equal(skipping.code, 0, skipping.output);
    assert.deepEqual(skipping.report!.turso, []);
    assert.ok(skipping.report!.skipped.includes('Turso backups (--no-turso)'));

    // A full compare finds both and makes the backup exact again.
    const push = await runCli(['run', 'turso-push', '--bot', 'bot-backed', '--full-compare'], cli);
    assert.equal(push.code, 0, push.output);
    assert.match(push.output, /"pushed":2/);
    const again = await verify();
    assert.equal(again.code, 0, again.output);
  });
});
