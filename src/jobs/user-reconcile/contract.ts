import { z } from 'zod';
import { defineContract } from '../job.js';

/** `user-reconcile`: the dual-write's safety net, re-importing the users changed since its last run. */
export const userReconcileContract = defineContract({
  name: 'user-reconcile',
  payload: z.object({
    /**
     * Re-read users changed this long before the latest updatedAt already read too: writes
     * committed after later-dated ones, and the spread between the platform's writers' clocks.
     */
    overlapMs: z.number().int().min(0).max(86_400_000).default(60_000),
  }),
  title: () => 'user-reconcile',
});
