import { guardBotJob } from '../../bots/held-bots.js';
import { dryRunBot, type BotSyncDryRun } from '../../bot-sync/dry-run.js';
import { syncBot, type BotSyncResult } from '../../bot-sync/sync-bot.js';
import { defineHandler } from '../job.js';
import { botSyncContract } from './contract.js';

export const botSyncHandler = defineHandler({
  contract: botSyncContract,
  handle: (p, ctx): Promise<BotSyncResult | BotSyncDryRun> =>
    guardBotJob<BotSyncResult | BotSyncDryRun>(
      ctx,
      // A sync's COMMIT releases the bot's hold (sync-state.ts writeSyncSuccess).
      { job: 'bot-sync', instance: p.bot, dryRun: p.dryRun, releasedByRun: true },
      () =>
        p.dryRun ? dryRunBot(ctx, p.bot) : syncBot(ctx, p.bot, { full: p.fullCompare, acceptReset: p.acceptReset }),
    ),
});
