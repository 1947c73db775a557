/**
 * Settings of the workers (and producers) in the fault runs: the production mechanisms with
 * shorter clocks, so that a run takes minutes. The reasons for the production values are in
 * RELIABILITY.md; 20 stalls because these runs kill a worker about every second.
 */
export const faultWorkerSettings = {
  JOB_ATTEMPTS: '10',
  JOB_BACKOFF: '1s',
  JOB_LOCK_DURATION: '4s',
  JOB_STALLED_INTERVAL: '2s',
  JOB_MAX_STALLED_COUNT: '20',
  LOG_LEVEL: 'info',
  // These runs edit old closed trades at random and expect the next sync to catch them: every
  // sync compares every row (change windows leave such edits to the next full compare).
  FULL_COMPARE_INTERVAL: '0',
} as const;
