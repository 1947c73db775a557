import { z } from 'zod';
import { defineContract } from '../job.js';

/**
 * A diagnostic job: proves the queue, a worker and the board end to end
 * (`ctp-etl enqueue echo --json '{"message":"hi"}' --wait`). It can be told to fail its first
 * attempts, or to take a while, which is what operators and the tests use it for.
 */
export const echoContract = defineContract({
  name: 'echo',
  payload: z.object({
    message: z.string().max(10_000),
    failAttempts: z.number().int().min(0).max(100).default(0),
    permanentFailure: z.boolean().default(false),
    durationMs: z.number().int().min(0).max(600_000).default(0),
  }),
  title: (p) => `echo ${p.message.slice(0, 40)}`,
});
