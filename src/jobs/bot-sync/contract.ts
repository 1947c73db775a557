import { z } from 'zod';
import { allBots } from '../../bots/all-bots.js';
import { assertInstanceName, instanceNameSchema } from '../../bots/bot-instances.js';
import { acceptResetFromCli, acceptResetSchema } from '../../bots/reset-guard.js';
import { defineContract, withRenamedKeys } from '../job.js';

/** FreqTrade SQLite -> PostgreSQL for one bot: incremental, exact, one run per bot at a time. */
export const botSyncContract = defineContract({
  name: 'bot-sync',
  // `full` was the name of `fullCompare` (`--full-compare`) in jobs queued before.
  payload: withRenamedKeys(
    { full: 'fullCompare' },
    z.object({
      bot: instanceNameSchema,
      /** Compare every row (no change windows), even when the database file looks unchanged. */
      fullCompare: z.boolean().default(false),
      /** Report per table what a sync would insert, update and delete; write nothing. */
      dryRun: z.boolean().optional(),
      /** Accept a replaced database: the bot's old rows become an archived epoch, or are deleted. */
      acceptReset: acceptResetSchema.optional(),
    }),
  ),
  title: (p) =>
    `bot-sync ${p.bot}${p.dryRun ? ' (dry run)' : ''}${p.acceptReset ? ` (accept reset: ${p.acceptReset})` : ''}`,
  async fromCli(options, env) {
    const acceptReset = acceptResetFromCli(options.acceptReset);
    const dryRun = options.dryRun ?? false;
    // --full-compare: every row compared, no change windows.
    const full = options.fullCompare === true ? { fullCompare: true } : {};
    if (options.all) {
      // Accepting resets is a decision about one bot, never a sweep over all of them.
      if (acceptReset !== undefined) throw new Error('bot-sync --accept-reset needs --bot <instance>, not --all');
      return (await allBots(env)).map((bot) => ({ bot, dryRun, ...full }));
    }
    if (options.bot === undefined) throw new Error('bot-sync needs --bot <instance> or --all');
    return [{ bot: assertInstanceName(options.bot), dryRun, ...full, ...(acceptReset ? { acceptReset } : {}) }];
  },
});
