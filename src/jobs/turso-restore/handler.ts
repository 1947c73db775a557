import { confinedPath } from '../../payload-paths.js';
import { defineHandler } from '../job.js';
import { restoreBot } from '../../turso/restore-bot.js';
import { tursoRestoreContract } from './contract.js';

export const tursoRestoreHandler = defineHandler({
  contract: tursoRestoreContract,
  handle: async (p, ctx) =>
    restoreBot({
      config: ctx.config,
      instance: p.instance,
      to: ctx.operatorShell
        ? p.to
        : await confinedPath(
            `bot ${p.instance}: turso-restore`,
            p.to,
            { variable: 'RESTORE_DIR', dir: ctx.config.RESTORE_DIR },
            { create: true },
          ),
      signal: ctx.signal,
      log: ctx.log,
      progress: ctx.progress,
    }),
});
