import assert from 'node:assert/strict';
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
  /** FreqTrade opening one trade with its entry order (a change window's sync). */
  const openTrade = (bot: string, seed: number) => {
    const mutator = new FreqtradeMutator(botDbPath(dir.path, bot), seed);
    try {
      assert.ok(mutator.apply('open'), 'a trade opened');
    } finally {
      mutator.close();
    }
  };

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
