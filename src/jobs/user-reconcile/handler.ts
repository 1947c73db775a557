import { reconcileUsers, type UserReconcileResult } from '../../import/reconcile-source.js';
import { defineHandler } from '../job.js';
import { userReconcileContract } from './contract.js';

/** `user-reconcile`, repeated by the scheduler every USER_RECONCILE_INTERVAL (the scheduler's schedule sources). */
export const userReconcileHandler = defineHandler({
  contract: userReconcileContract,
  handle: (p, ctx): Promise<UserReconcileResult> => reconcileUsers(ctx, p.overlapMs),
});
