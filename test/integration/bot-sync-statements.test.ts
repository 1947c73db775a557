import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FreqtradeMutator } from '../../scripts/freqtrade/mutations.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import type { BotSyncResult } from '../../src/bot-sync/sync-bot.js';
import { botSyncHandler } from '../../src/jobs/bot-sync/handler.js';
import { recordingContext } from '../helpers/job-context.js';
import { statementsOf } from '../helpers/pg-statements.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * What a changed bot's sync spares PostgreSQL (issue 25): statements sent only when there is
 * something for them to do, and the case each one is for still handled.
 */
describe("bot-sync's statements: none without something to do", () => {
  const dir = tempDir('bot-sync-statements');
  const env = suiteEnvironment('bot_sync_statements', { BOT_INSTANCES_DIR: dir.path }, { dir });

  const sync = (bot: string) =>
    statementsOf(() => botSyncHandler.handle({ bot, fullCompare: false }, recordingContext(env.runtime)));
  const holds = async (bot: string): Promise<string[]> => {
    const { rows } = await env.db.pool.query<{ job: string }>(
      'SELECT job FROM bot_holds WHERE instance_id = $1 ORDER BY job',
      [bot],
    );
    return rows.map((r) => r.job);
  };
  const hold = async (bot: string, job: string) => {
    await env.db.pool.query(
      `INSERT INTO bot_holds (instance_id, job, reason, message, file, file_stamp, held_at)
       VALUES ($1, $2, 'sync-config', 'refused', $3, 'contents|gone', now())`,
      [bot, job, botDbPath(dir.path, bot)],
    );
  };
  /** FreqTrade opening one trade with its entry order (a change window's sync). */
  const openTrade = (bot: string, seed: number) => {
    const mutator = new FreqtradeMutator(botDbPath(dir.path, bot), seed);
    try {
      assert.ok(mutator.apply('open'), 'a trade opened');
    } finally {
      mutator.close();
    }
  };

  it("releases a held bot's sync in its commit, changed or not, and sends no release for a bot not held", async () => {
    createFreqtradeDb(botDbPath(dir.path, 'held'), { trades: 20, seed: 3 });
    await sync('held');
    const releases = (statements: string[]) => statements.filter((text) => text.startsWith('DELETE FROM bot_holds'));

    openTrade('held', 1);
    const free = await sync('held');
    assert.deepEqual(releases(free.statements), [], 'no statement of its own to release a hold the bot has not');

    // A file written this moment is read again (its stamp is not trusted yet): an older one is not.
    const past = new Date(Date.now() - 60_000);
    utimesSync(botDbPath(dir.path, 'held'), past, past);
    await sync('held');
    await hold('held', 'bot-sync');
    await hold('held', 'turso-push');
    const unchanged = await sync('held');
    assert.equal('skipped' in unchanged.result && unchanged.result.skipped, 'unchanged');
    assert.deepEqual(await holds('held'), ['turso-push'], "an unchanged bot's good sync releases its sync's hold");

    await hold('held', 'bot-sync');
    openTrade('held', 2);
    const changed = await sync('held');
    assert.equal('trades' in changed.result && changed.result.trades.inserted, 1);
    assert.deepEqual(await holds('held'), ['turso-push'], "a changed bot's good sync releases its sync's hold");
  });

  it('drops the connection plans after a big insert of orders only, not after a window of a few', async () => {
    createFreqtradeDb(botDbPath(dir.path, 'replan'), { trades: 200, seed: 4 });
    const first = await sync('replan');
    assert.ok(first.statements.includes('DISCARD PLANS'), "a first sync's orders: the check planned again");
    openTrade('replan', 3);
    const window = await sync('replan');
    assert.ok((window.result as BotSyncResult).orders.inserted > 0, 'orders inserted');
    assert.deepEqual(
      window.statements.filter((text) => text === 'DISCARD PLANS'),
      [],
      "a few orders: a stale check's plan costs less than the DISCARD",
    );
  });
});
