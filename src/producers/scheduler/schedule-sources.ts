import type { JobName } from '../../jobs/registry.js';
import type { ScheduleSource } from './scheduler.js';

/**
 * Schedules other job types add for the discovered bots, beyond bot-sync. Each job area adds
 * its own entry here (Turso pushes for bots whose sync-config.json enables them, ...).
 */
export function scheduleSources(): Array<{ queue: JobName; schedules: ScheduleSource }> {
  return [];
}
