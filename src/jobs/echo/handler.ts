import { z } from 'zod';
import { PermanentJobError } from '../errors.js';
import { defineJob } from './job.js';

/**
 * A diagnostic job: proves the queue, a worker and the board end to end
 * (`ctp-etl enqueue echo --json '{"message":"hi"}' --wait`). It can be told to fail its first
 * attempts, or to take a while, which is what operators and the tests use it for.
 */
const payload = z.object({
  message: z.string().max(10_000),
  failAttempts: z.number().int().min(0).max(100).default(0),
  permanentFailure: z.boolean().default(false),
  durationMs: z.number().int().min(0).max(600_000).default(0),
});

export const echoJob = defineJob({
  name: 'echo',
  payload,
  title: (p) => `echo ${p.message.slice(0, 40)}`,
  async handle(p, ctx) {
    await ctx.log(`echo attempt ${ctx.attempt}: ${p.message}`);
    if (p.permanentFailure) throw new PermanentJobError(`echo refused "${p.message}" permanently`);
    if (ctx.attempt <= p.failAttempts)
      throw new Error(`echo failing attempt ${ctx.attempt} of the first ${p.failAttempts} on purpose`);
    const started = Date.now();
    while (Date.now() - started < p.durationMs) {
      if (ctx.signal.aborted) throw new Error('echo aborted');
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, p.durationMs)));
      await ctx.progress(Math.min(100, Math.round(((Date.now() - started) / p.durationMs) * 100)));
    }
    return { message: p.message, attempt: ctx.attempt };
  },
});
