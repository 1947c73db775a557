import { z } from 'zod';
import { assertInstanceName, instanceNameSchema, scanBotInstances } from '../bots/bot-instances.js';
import { syncBot } from './bot-sync/sync-bot.js';
import { defineJob } from './job.js';

const payload = z.object({
  bot: instanceNameSchema,
  /** Compare every row even when the database file looks unchanged. */
  full: z.boolean().default(false),
});

/** FreqTrade SQLite -> PostgreSQL for one bot: incremental, exact, one run per bot at a time. */
export const botSyncJob = defineJob({
  name: 'bot-sync',
  payload,
  title: (p) => `bot-sync ${p.bot}`,
  handle: (p, ctx) => syncBot(ctx, p.bot, { full: p.full }),
  async fromCli(options, env) {
    if (options.all) {
      const scan = await scanBotInstances(env.config);
      return scan.bots.map((bot) => ({ bot: bot.name }));
    }
    if (options.bot === undefined) throw new Error('bot-sync needs --bot <instance> or --all');
    return [{ bot: assertInstanceName(options.bot) }];
  },
});
