import { QueueEvents, type Job } from 'bullmq';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import type { CliJobOptions } from '../../jobs/job.js';
import type { JobName } from '../../jobs/contracts.js';
import { enqueue } from '../../producers/enqueue.js';
import { closeQueues, createQueues } from '../../queues/queues.js';
import { Runtime } from '../../runtime/runtime.js';
import { payloadsFromCli } from '../cli-payloads.js';
import { jobNameArgument, withJobOptions } from './job-options.js';
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
        const producer = await runtime.readyRedis('producer');
        const queues = createQueues(runtime.config, producer, [name], runtime.errors.listener('queue'));
        runtime.closers.add('queues', () => closeQueues(queues));
        // Listen before adding, so no event of a fast job is missed.
        let events: QueueEvents | undefined;
        if (options.wait) {
          events = new QueueEvents(name, { connection: runtime.redis('worker'), prefix: runtime.config.QUEUE_PREFIX });
          runtime.closers.add('queue events', () => events?.close());
          await events.waitUntilReady();
        }
        const queue = queues.get(name);
        const follower = events && queue ? new JobFollower(queue, events) : undefined;
        const added: Job[] = [];
        for (const payload of payloads) {
          const enqueued = await enqueue(queues, name, payload as never);
          added.push(enqueued);
          process.stdout.write(`enqueued ${name} job ${enqueued.id} (${enqueued.name})\n`);
        }
        if (follower && queue) {
          if ((await queue.getWorkersCount()) === 0) {
            process.stderr.write(
              `no worker serves queue ${name} yet; waiting for one (\`ctp-etl worker --queues ${name}\` or \`ctp-etl start\`)\n`,
            );
          }
          const failures = await follower.follow(added);
          if (failures > 0) process.exitCode = 1;
        }
      } finally {
        await runtime.close();
      }
    });
}
