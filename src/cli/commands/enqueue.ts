import { QueueEvents, type Job } from 'bullmq';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import type { CliJobOptions } from '../../jobs/job.js';
import type { JobName } from '../../jobs/contracts.js';
import { enqueue } from '../../producers/enqueue.js';
import { routeJob } from '../../queues/host-routing.js';
import { openQueues } from '../../queues/queues.js';
import { Runtime } from '../../runtime/runtime.js';
import { payloadsFromCli } from '../cli-payloads.js';
import { jobNameArgument, withJobOptions } from '../options.js';
import { JobFollower } from './follow-jobs.js';

export function registerEnqueue(program: Command): void {
  withJobOptions(program.command('enqueue'))
    .description('put a job on its queue; --wait follows it to the end and exits non-zero if it failed')
    .option('--wait', 'wait for the job(s) to finish, showing progress')
    .action(async (job: string, options: CliJobOptions & { wait?: boolean }) => {
      const name: JobName = jobNameArgument(job);
      const runtime = new Runtime(loadConfig());
      try {
        const payloads = await payloadsFromCli(name, options, { config: runtime.config, pg: runtime.pg });
        // With hosts, each bot's job goes to the queue of the host that holds the bot.
        const routed = await Promise.all(
          payloads.map(async (payload) => ({
            payload,
            queueName: await routeJob(runtime.config, runtime.pg, name, payload),
          })),
        );
        const queueNames = [...new Set(routed.map((r) => r.queueName))];
        const producer = await runtime.readyRedis('producer');
        const queues = openQueues(runtime, producer, queueNames, 'queues');
        // Listen before adding, so no event of a fast job is missed.
        const followers = new Map<string, JobFollower>();
        if (options.wait) {
          for (const queueName of queueNames) {
            const events = new QueueEvents(queueName, {
              connection: runtime.redis('worker'),
              prefix: runtime.config.QUEUE_PREFIX,
            });
            runtime.closers.add('queue events', () => events.close());
            await events.waitUntilReady();
            followers.set(queueName, new JobFollower(queues.get(queueName)!, events));
          }
        }
        const added = new Map<string, Job[]>();
        for (const { payload, queueName } of routed) {
          const enqueued = await enqueue(queues, name, payload as never, {}, queueName);
          added.set(queueName, [...(added.get(queueName) ?? []), enqueued]);
          const where = queueName === name ? '' : ` on ${queueName}`;
          process.stdout.write(`enqueued ${name} job ${enqueued.id} (${enqueued.name})${where}\n`);
        }
        if (followers.size > 0) {
          for (const queueName of queueNames) {
            if ((await queues.get(queueName)!.getWorkersCount()) === 0) {
              const host = queueName === name ? '' : ' with the WORKER_HOST of that host';
              process.stderr.write(
                `no worker serves queue ${queueName} yet; waiting for one (\`ctp-etl worker --queues ${name}\`${host} or \`ctp-etl start\`)\n`,
              );
            }
          }
          const failures = await Promise.all(
            [...followers].map(([queueName, follower]) => follower.follow(added.get(queueName) ?? [])),
          );
          if (failures.some((n) => n > 0)) process.exitCode = 1;
        }
      } finally {
        await runtime.close();
      }
    });
}
