import { z } from 'zod';
import { allBots } from '../../bots/all-bots.js';
import { assertInstanceName, instanceNameSchema } from '../../bots/bot-instances.js';
import { defineContract, withRenamedKeys } from '../job.js';

/** `--accept-reset` or `--accept-reset=delete`: a backup keeps no archived epoch of the old rows. */
function acceptReset(value: string | boolean | undefined): boolean {
  if (value === undefined || value === false) return false;
  if (value === true || value === 'delete') return true;
  throw new Error(
    `turso-push --accept-reset=${String(value)}: a Turso backup mirrors the bot's file and keeps no archived epoch; use --accept-reset=delete`,
  );
}

/** SQLite -> Turso for one bot. The job carries only the bot's instance name: the worker reads the URL and token itself. */
export const tursoPushContract = defineContract({
  name: 'turso-push',
  // `instance` was the name of `bot` (`--bot`) in jobs queued before.
  payload: withRenamedKeys(
    { instance: 'bot' },
    z.object({
      bot: instanceNameSchema,
      /** Show what would be pushed and deleted, write nothing. */
      dryRun: z.boolean().optional(),
      /** Push even a database that looks replaced (the reset guard); the backup then mirrors it. */
      acceptReset: z.literal('delete').optional(),
      /** Compare every table with the target's rows, whatever the records say (finds edits behind our back). */
      fullCompare: z.boolean().optional(),
    }),
  ),
  title: (p) => `turso-push ${p.bot}${p.dryRun ? ' (dry run)' : ''}${p.acceptReset ? ' (accept reset: delete)' : ''}`,
  async fromCli(options, env) {
    if (options.bot !== undefined && options.all)
      throw new Error('turso-push takes --bot <instance> or --all, not both');
    const flags = {
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(acceptReset(options.acceptReset) ? { acceptReset: 'delete' as const } : {}),
      ...(options.fullCompare ? { fullCompare: true } : {}),
    };
    if (options.bot !== undefined) return [{ bot: assertInstanceName(options.bot), ...flags }];
    if (options.acceptReset) throw new Error('turso-push --accept-reset takes one bot (--bot <instance>), not --all');
    if (!options.all) throw new Error('turso-push needs --bot <instance> or --all');
    return (await allBots(env, { tursoPush: true })).map((bot) => ({ bot, ...flags }));
  },
});
