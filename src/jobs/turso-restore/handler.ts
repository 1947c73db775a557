import { z } from 'zod';
import { assertInstanceName, instanceNameSchema } from '../../bots/bot-instances.js';
import { defineJob } from '../job.js';
import { restoreBot } from './restore-bot.js';

const payload = z.object({
  instance: instanceNameSchema,
  /** The SQLite file to create; an existing file is refused unless it is empty. */
  to: z.string().min(1),
});

export const tursoRestoreJob = defineJob({
  name: 'turso-restore',
  payload,
  title: (p) => `turso-restore ${p.instance} -> ${p.to}`,
  handle: (p, ctx) =>
    restoreBot({
      config: ctx.config,
      instance: p.instance,
      to: p.to,
      signal: ctx.signal,
      log: ctx.log,
      progress: ctx.progress,
    }),
  async fromCli(options) {
    if (options.bot === undefined || options.to === undefined)
      throw new Error('turso-restore needs --bot <instance> and --to <path of the SQLite file to create>');
    return [{ instance: assertInstanceName(options.bot), to: options.to }];
  },
});
