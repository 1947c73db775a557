import { syncBot } from './sync-bot.js';
import { defineHandler } from '../job.js';
import { botSyncContract } from './contract.js';

export const botSyncHandler = defineHandler({
  contract: botSyncContract,
  handle: (p, ctx) => syncBot(ctx, p.bot, { full: p.full }),
});
