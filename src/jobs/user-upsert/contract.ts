import { z } from 'zod';
import { describeId } from '../../users/map-user.js';
import { defineContract } from '../job.js';

/**
 * `user-upsert`: the dual-write of one user (enqueueUserUpsert). The payload is the user
 * document as Extended JSON (canonical or relaxed), as enqueueUserUpsert writes it.
 */
export const userUpsertContract = defineContract({
  name: 'user-upsert',
  payload: z
    .record(z.string(), z.unknown())
    .refine((doc) => doc._id !== undefined && doc._id !== null, { message: 'the user document has no _id' }),
  title: (p) => `user-upsert ${typeof p.email === 'string' ? p.email : describeId(p._id)}`,
});
