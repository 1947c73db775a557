import type { RedisConnection } from '../../connections/redis.js';
import type { Config } from '../../config.js';
import type { PgPool } from '../../connections/postgres.js';
import { errorMessage } from '../../errors.js';
import { jobContracts, type JobName } from '../../jobs/contracts.js';
import type { Logger } from '../../logger.js';
import { defaultJobOptions } from '../../queues/job-options.js';
import type { Queue } from 'bullmq';
import { botHosts, hostedBots } from '../../bots/bot-registry.js';
import { heldJobs, type HeldJob } from '../../bots/held-bots.js';
import { HOST_ROUTED, queueNameFor } from '../../queues/host-routing.js';
import { closeQueues, createQueues, type Queues } from '../../queues/queues.js';
import { PerBotSchedules, type DesiredSchedule } from './desired-schedules.js';
import { discoverBots } from './discover-bots.js';
import { LeaderLock } from './leader-lock.js';
import { reconcileSchedules, type ReconcileResult } from './reconcile-schedules.js';

/** Adds schedules of its own for the discovered bots (e.g. Turso pushes for enabled bots). */
export type ScheduleSource = (bots: readonly string[]) => Promise<DesiredSchedule[]>;

export interface SchedulerOptions {
  config: Config;
  pg: PgPool;
  redis: RedisConnection;
  queues: Queues;
  logger: Logger;
  /** The `error` events of the hosts' queues it opens itself (the runtime's counts and log). */
  onQueueError: (error: unknown) => void;
  /** Queues whose schedulers this process owns, with what to schedule on them. */
  sources?: ReadonlyArray<{ queue: JobName; schedules: ScheduleSource }>;
  /** How often leadership is renewed (or tried for); the lock lives three times that. */
  leaseRenewMs?: number;
}

export interface SchedulerPass {
  leader: boolean;
  bots?: number;
  missing?: string[];
  schedules?: ReconcileResult;
}

/**
 * Bot discovery plus job schedules. Any number of schedulers may run; the one holding the
 * leader lock discovers bots every DISCOVERY_INTERVAL and reconciles schedules, the others
 * stand by and take over when its lock expires.
 */
export class Scheduler {
  private readonly lock: LeaderLock;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private lastPass = 0;
  private stopped = false;
  private leader = false;
  private readonly hostQueues = new Map<string, Queue>();
  private readonly perBot = new PerBotSchedules();

  constructor(private readonly options: SchedulerOptions) {
    const renew = options.leaseRenewMs ?? 10_000;
    this.lock = new LeaderLock(options.redis, `${options.config.QUEUE_PREFIX}:ctp-etl:scheduler-leader`, renew * 3);
  }

  start(): void {
    const renew = this.options.leaseRenewMs ?? 10_000;
    const tick = (): void => {
      this.running = this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, renew);
      });
    };
    tick();
  }

  /** One pass now if this process is (or becomes) the leader. */
  async runOnce(): Promise<SchedulerPass> {
    if (!(await this.lock.acquire())) return { leader: false };
    if (this.options.config.BOT_DISCOVERY === 'hosts') return this.hostsPass();
    const { config, pg, queues, logger } = this.options;
    const discovery = await discoverBots(config, pg);
    for (const skipped of discovery.skipped) logger.warn('skipped a folder in BOT_INSTANCES_DIR', skipped);
    // A held bot's job is not scheduled: its refusal stands until its file changes or an operator acts.
    const held = await heldJobs(pg);
    const notHeld = (job: HeldJob) => discovery.bots.filter((bot) => !held.get(bot)?.has(job));
    const desired: DesiredSchedule[] = notHeld('bot-sync').map((bot) =>
      this.perBot.get({
        queue: 'bot-sync',
        bot,
        every: config.SYNC_INTERVAL,
        title: jobContracts['bot-sync'].title({ bot, fullCompare: false }),
      }),
    );
    this.perBot.endPass();
    const owned: JobName[] = ['bot-sync'];
    for (const source of this.options.sources ?? []) {
      owned.push(source.queue);
      desired.push(...(await source.schedules(source.queue === 'turso-push' ? notHeld('turso-push') : discovery.bots)));
    }
    // Leadership can lapse while discovery runs (a long pause); a former leader must not write.
    if (!(await this.lock.holds())) return { leader: false };
    const schedules = await reconcileSchedules(queues, owned, desired, defaultJobOptions(config));
    if (schedules.created + schedules.updated + schedules.removed > 0 || discovery.missing.length > 0) {
      logger.info('schedules reconciled', { bots: discovery.bots.length, missing: discovery.missing, ...schedules });
    }
    return { leader: true, bots: discovery.bots.length, missing: discovery.missing, schedules };
  }

  /**
   * BOT_DISCOVERY=hosts: each host's workers have recorded their bots in PostgreSQL (this process
   * cannot see their disks); every bot's schedules go on its host's queues. The single-host
   * queues' bot schedules, and those of a host that holds no bot any more, are removed.
   */
  private async hostsPass(): Promise<SchedulerPass> {
    const { config, pg, logger } = this.options;
    // A conflicted bot has no host here; a held one's refusal is recorded (its host's discovery releases it).
    const [bots, hosts, held] = await Promise.all([hostedBots(pg), botHosts(pg), heldJobs(pg, undefined, false)]);
    const syncTitle = jobContracts['bot-sync'].title;
    const pushTitle = jobContracts['turso-push'].title;
    const desired: DesiredSchedule[] = [];
    for (const { instance, host, tursoPush } of bots) {
      const heldJobsOfBot = held.get(instance);
      if (!heldJobsOfBot?.has('bot-sync'))
        desired.push(
          this.perBot.get({
            queue: queueNameFor('bot-sync', host),
            bot: instance,
            every: config.SYNC_INTERVAL,
            title: syncTitle({ bot: instance, fullCompare: false }),
          }),
        );
      if (tursoPush && !heldJobsOfBot?.has('turso-push')) {
        desired.push(
          this.perBot.get({
            queue: queueNameFor('turso-push', host),
            bot: instance,
            every: config.TURSO_PUSH_INTERVAL,
            title: pushTitle({ bot: instance }),
          }),
        );
      }
    }
    this.perBot.endPass();
    const perBotJobs: JobName[] = ['bot-sync', 'turso-push'];
    const owned: string[] = [
      ...perBotJobs,
      ...hosts.flatMap((host) => perBotJobs.map((job) => queueNameFor(job, host))),
    ];
    for (const source of this.options.sources ?? []) {
      if (HOST_ROUTED.includes(source.queue)) continue; // read from the bots table above
      owned.push(source.queue);
      desired.push(...(await source.schedules([])));
    }
    if (!(await this.lock.holds())) return { leader: false };
    const schedules = await reconcileSchedules(this.queuesFor(owned), owned, desired, defaultJobOptions(config));
    if (schedules.created + schedules.updated + schedules.removed > 0) {
      logger.info('schedules reconciled', { bots: bots.length, hosts, ...schedules });
    }
    return { leader: true, bots: bots.length, missing: [], schedules };
  }

  /** The given queues, opening the hosts' queues on first use (hosts appear as their workers start). */
  private queuesFor(names: readonly string[]): Queues {
    for (const name of names) {
      if (this.options.queues.has(name) || this.hostQueues.has(name)) continue;
      this.hostQueues.set(
        name,
        createQueues(this.options.config, this.options.redis, [name], this.options.onQueueError).get(name)!,
      );
    }
    return new Map([...this.options.queues, ...this.hostQueues]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running.catch(() => undefined);
    await this.lock.release().catch(() => undefined);
    await closeQueues(this.hostQueues);
  }

  private async tick(): Promise<void> {
    try {
      const holds = await this.lock.acquire();
      if (holds !== this.leader)
        this.options.logger.info(holds ? 'scheduler is the leader' : 'scheduler stands by (another one leads)');
      this.leader = holds;
      if (!holds) return;
      if (Date.now() - this.lastPass < this.options.config.DISCOVERY_INTERVAL) return;
      this.lastPass = Date.now();
      await this.runOnce();
    } catch (error) {
      this.options.logger.error('scheduler pass failed; next pass retries', { error: errorMessage(error) });
    }
  }
}
