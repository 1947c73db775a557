import { upsertUser, type UserUpsertResult } from '../../users/upsert-user.js';
import { defineHandler } from '../job.js';
import { userUpsertContract } from './contract.js';

export const userUpsertHandler = defineHandler({
  contract: userUpsertContract,
  handle: (p, ctx): Promise<UserUpsertResult> => upsertUser(ctx.pg, p, { jobId: ctx.jobId, log: ctx.log }),
});
