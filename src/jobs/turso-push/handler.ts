import { guardBotJob } from '../../bots/held-bots.js';
import { defineHandler } from '../job.js';
import { pushBot } from '../../turso/push-bot.js';
import { tursoPushContract } from './contract.js';

export const tursoPushHandler = defineHandler({
  contract: tursoPushContract,
  async handle(p, ctx) {
    return guardBotJob(ctx, { job: 'turso-push', instance: p.bot, dryRun: p.dryRun }, () =>
      pushBot({
        config: ctx.config,
        pg: ctx.pg,
        instance: p.bot,
        signal: ctx.signal,
        log: ctx.log,
        progress: ctx.progress,
        dryRun: p.dryRun,
        acceptReset: p.acceptReset === 'delete',
        fullCompare: p.fullCompare,
      }),
    );
  },
});
