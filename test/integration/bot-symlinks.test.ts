import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scanBotInstances } from '../../src/bots/bot-instances.js';
import { PermanentJobError } from '../../src/errors.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

/**
 * Issue 11.13: one rule for links, applied by discovery and by `--bot`: real paths stay inside
 * BOT_INSTANCES_DIR and belong to one bot.
 */
describe('symlinks in BOT_INSTANCES_DIR', () => {
  const tracker = failureTracker();
  const dir = tempDir('bot-symlinks');
  const bots = path.join(dir.path, 'bots');
  let env: TestEnvironment;

  const syncedTrades = async (bot: string) =>
    Number(
      (
        await env.runtime.pg.query<{ n: string }>(
          'SELECT count(*) AS n FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1',
          [bot],
        )
      ).rows[0]!.n,
    );
  const assertRefused = async (bot: string, rule: RegExp) =>
    assert.rejects(syncBot(recordingContext(env.runtime), bot), (error: Error) => {
      assert.ok(error instanceof PermanentJobError, `${error.name}: ${error.message}`);
      assert.match(error.message, new RegExp(`^bot ${bot}: .* is refused: it resolves to `));
      assert.match(error.message, rule);
      return true;
    });

  before(async () => {
    createFreqtradeDb(botDbPath(bots, 'alpha'), { trades: 5 });
    // A folder that links to another bot's folder.
    symlinkSync(path.join(bots, 'alpha'), path.join(bots, 'alias'));
    // A complete bot outside BOT_INSTANCES_DIR, linked in.
    createFreqtradeDb(botDbPath(path.join(dir.path, 'elsewhere'), 'stranger'), { trades: 3 });
    symlinkSync(path.join(dir.path, 'elsewhere', 'stranger'), path.join(bots, 'outsider'));
    // A real folder whose database is a link to another bot's file.
    mkdirSync(path.join(bots, 'thief', 'user_data'), { recursive: true });
    symlinkSync(botDbPath(bots, 'alpha'), botDbPath(bots, 'thief'));
    // A link that stays inside the bot's own folder is fine.
    createFreqtradeDb(path.join(bots, 'tidy', 'user_data', 'current.sqlite'), { trades: 2 });
    symlinkSync('current.sqlite', botDbPath(bots, 'tidy'));
    env = await createTestEnvironment('bot_symlinks', { BOT_INSTANCES_DIR: bots });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('discovery skips each link that breaks the rule, saying why, and keeps the rest', async () => {
    const scan = await scanBotInstances(env.config);
    assert.deepEqual(
      scan.bots.map((b) => b.name),
      ['alpha', 'tidy'],
    );
    const reasons = new Map(scan.skipped.map((s) => [s.name, s.reason]));
    assert.match(reasons.get('alias') ?? '', /alias is refused: .*belongs to bot folder alpha, not to alias/);
    assert.match(reasons.get('outsider') ?? '', /outsider is refused: .*stranger.*must stay inside BOT_INSTANCES_DIR/);
    assert.match(
      reasons.get('thief') ?? '',
      /thief[/\\]user_data[/\\]tradesv3\.sqlite is refused: .*belongs to bot folder alpha, not to thief/,
    );
  });

  it('--bot refuses the same links, permanently, and syncs nothing for them', async () => {
    await assertRefused('outsider', /must stay inside BOT_INSTANCES_DIR/);
    await assertRefused('alias', /belongs to bot folder alpha/);
    await assertRefused('thief', /belongs to bot folder alpha/);
    for (const bot of ['outsider', 'alias', 'thief']) assert.equal(await syncedTrades(bot), 0, bot);
  });

  it('syncs a bot whose database is a link within its own folder', async () => {
    await syncBot(recordingContext(env.runtime), 'tidy');
    assert.equal(await syncedTrades('tidy'), 2);
  });
});
