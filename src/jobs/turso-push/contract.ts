import { z } from 'zod';
import { assertInstanceName, instanceNameSchema, scanBotInstances } from '../../bots/bot-instances.js';
import { hostedBots } from '../../bots/bot-registry.js';
import { defineContract } from '../job.js';
import { tursoPushEnabled } from '../turso/push-enabled.js';
import { SyncConfigError } from '../turso/sync-config.js';

/** SQLite -> Turso for one bot. The job carries only the bot's instance name: the worker reads the URL and token itself. */
export const tursoPushContract = defineContract({
  name: 'turso-push',
  payload: z.object({
    instance: instanceNameSchema,
  }),
  title: (p) => `turso-push ${p.instance}`,
  async fromCli(options, env) {
    if (options.bot !== undefined && options.all)
      throw new Error('turso-push takes --bot <instance> or --all, not both');
    if (options.bot !== undefined) return [{ instance: assertInstanceName(options.bot) }];
    if (!options.all) throw new Error('turso-push needs --bot <instance> or --all');
    if (env.config.BOT_DISCOVERY === 'hosts') {
      return (await hostedBots(env.pg)).filter((b) => b.tursoPush).map((b) => ({ instance: b.instance }));
    }
    const { bots } = await scanBotInstances(env.config);
    const enabled: Array<{ instance: string }> = [];
    for (const bot of bots) {
      // A malformed sync-config.json still gets its job: it fails with the error naming the file.
      const on = await tursoPushEnabled(env.config, bot.name).catch(
        (error: unknown) => error instanceof SyncConfigError,
      );
      if (on) enabled.push({ instance: bot.name });
    }
    return enabled;
  },
});
