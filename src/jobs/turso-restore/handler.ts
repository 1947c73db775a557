import { defineHandler } from '../job.js';
import { restoreBot } from '../turso/restore-bot.js';
import { tursoRestoreContract } from './contract.js';

export const tursoRestoreHandler = defineHandler({
  contract: tursoRestoreContract,
  handle: (p, ctx) =>
    restoreBot({
      config: ctx.config,
      instance: p.instance,
      to: p.to,
      signal: ctx.signal,
      log: ctx.log,
      progress: ctx.progress,
    }),
});
