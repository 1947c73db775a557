import { z } from 'zod';
import { assertInstanceName, instanceNameSchema } from '../../bots/bot-instances.js';
import { defineContract } from '../job.js';

/** Gives a bot its Turso database and sync-config.json. */
export const tursoProvisionContract = defineContract({
  name: 'turso-provision',
  payload: z.object({
    instance: instanceNameSchema,
  }),
  title: (p) => `turso-provision ${p.instance}`,
  async fromCli(options) {
    if (options.bot === undefined) throw new Error('turso-provision needs --bot <instance>');
    return [{ instance: assertInstanceName(options.bot) }];
  },
});
