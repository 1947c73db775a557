import { z } from 'zod';
import { assertInstanceName, instanceNameSchema } from '../../bots/bot-instances.js';
import { defineContract } from '../job.js';

/** Turso -> a new SQLite file for one bot. */
export const tursoRestoreContract = defineContract({
  name: 'turso-restore',
  payload: z.object({
    instance: instanceNameSchema,
    /** The SQLite file to create; an existing file is refused unless it is empty. */
    to: z.string().min(1),
  }),
  title: (p) => `turso-restore ${p.instance} -> ${p.to}`,
  async fromCli(options) {
    if (options.bot === undefined || options.to === undefined)
      throw new Error('turso-restore needs --bot <instance> and --to <path of the SQLite file to create>');
    return [{ instance: assertInstanceName(options.bot), to: options.to }];
  },
});
