import type { Config } from '../../config.js';
import { errorMessage } from '../../errors.js';
import { jobContracts, type JobName } from '../../jobs/contracts.js';
import { tursoPushBots } from '../../bots/sync-config.js';
import type { Logger } from '../../logger.js';
import { perBotSchedule } from './desired-schedules.js';
import type { ScheduleSource } from './scheduler.js';

/**
 * Schedules beyond bot-sync: a Turso push every TURSO_PUSH_INTERVAL for each bot whose
 * sync-config.json enables it (a disabled or unreadable config removes it), and the users'
 * reconcile job every USER_RECONCILE_INTERVAL when set.
 */
export function scheduleSources(config: Config, logger: Logger): Array<{ queue: JobName; schedules: ScheduleSource }> {
  const tursoPush: ScheduleSource = async (bots) => {
    const enabled = await tursoPushBots(config, bots, (bot, error) => {
      logger.warn('turso-push not scheduled: bad sync-config.json', { bot, error: errorMessage(error) });
      return false;
    });
    const title = jobContracts['turso-push'].title;
    return [...enabled].map((bot) =>
      perBotSchedule({
        queue: 'turso-push',
        bot,
        every: config.TURSO_PUSH_INTERVAL,
        title: title({ bot }),
      }),
    );
  };
  // The dual-write's safety net, when USER_RECONCILE_INTERVAL is set (unset: its schedule is removed).
  const userReconcile: ScheduleSource = async () =>
    config.USER_RECONCILE_INTERVAL === undefined
      ? []
      : [
          {
            id: 'user-reconcile',
            queue: 'user-reconcile',
            name: 'user-reconcile',
            every: config.USER_RECONCILE_INTERVAL,
            offset: 0,
            data: {},
          },
        ];
  return [
    { queue: 'turso-push', schedules: tursoPush },
    { queue: 'user-reconcile', schedules: userReconcile },
  ];
}
