import { z } from 'zod';
import { assertInstanceName, instanceNameSchema, scanBotInstances } from '../../bots/bot-instances.js';
import { hostedBots } from '../../bots/bot-registry.js';
import { defineContract } from '../job.js';

/** FreqTrade SQLite -> PostgreSQL for one bot: incremental, exact, one run per bot at a time. */
export const botSyncContract = defineContract({
  name: 'bot-sync',
  payload: z.object({
    bot: instanceNameSchema,
    /** Compare every row even when the database file looks unchanged. */
    full: z.boolean().default(false),
  }),
  title: (p) => `bot-sync ${p.bot}`,
  async fromCli(options, env) {
    if (options.all) {
      // Bots on several hosts: the ones their hosts' discovery recorded (this machine may hold none).
      if (env.config.BOT_DISCOVERY === 'hosts') return (await hostedBots(env.pg)).map((b) => ({ bot: b.instance }));
      const scan = await scanBotInstances(env.config);
      return scan.bots.map((bot) => ({ bot: bot.name }));
    }
    if (options.bot === undefined) throw new Error('bot-sync needs --bot <instance> or --all');
    return [{ bot: assertInstanceName(options.bot) }];
  },
});
