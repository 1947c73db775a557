import { PermanentJobError } from '../../errors.js';
import { defineHandler } from '../job.js';
import { echoContract } from './contract.js';

export const echoHandler = defineHandler({
  contract: echoContract,
  async handle(p, ctx) {
    await ctx.log(`echo attempt ${ctx.attempt}: ${p.message}`);
    if (p.permanentFailure) throw new PermanentJobError(`echo refused "${p.message}" permanently`);
    if (ctx.attempt <= p.failAttempts)
      throw new Error(`echo failing attempt ${ctx.attempt} of the first ${p.failAttempts} on purpose`);
    const started = Date.now();
    let reported = 0;
    while (Date.now() - started < p.durationMs) {
      if (ctx.signal.aborted) throw new Error('echo aborted');
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, p.durationMs)));
      reported = Math.min(100, Math.round(((Date.now() - started) / p.durationMs) * 100));
      await ctx.progress(reported);
    }
    // A slow progress write can end the wait between reports: the run still ends at 100%.
    if (p.durationMs > 0 && reported < 100) await ctx.progress(100);
    return { message: p.message, attempt: ctx.attempt };
  },
});
