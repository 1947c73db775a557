import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { onShutdownSignal } from '../../lifecycle/signals.js';
import { parseQueueList } from '../../queues/queues.js';
import { Runtime } from '../../runtime/runtime.js';
import { prepareProcess, startOrClose, startWorkerMetrics, startWorkers } from '../../roles/roles.js';
import { parsePositiveInt } from '../options.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run jobs; scale by starting more of them')
    .option('--queues <names>', 'comma-separated queues to serve (default: WORKER_QUEUES, else all)')
    .option(
      '--concurrency <n>',
      'jobs run at once per queue (default: WORKER_CONCURRENCY)',
      parsePositiveInt('--concurrency'),
    )
    .action(async (options: { queues?: string; concurrency?: number }) => {
      const config = loadConfig();
      const queues = parseQueueList(options.queues ?? config.WORKER_QUEUES);
      const runtime = new Runtime(config);
      onShutdownSignal(runtime.logger, config.SHUTDOWN_TIMEOUT, () => runtime.close());
      await startOrClose(runtime, async () => {
        await prepareProcess(runtime);
        // The metrics port first: a port in use then fails the start before any job is taken.
        if (config.WORKER_METRICS_PORT !== undefined) await startWorkerMetrics(runtime, config.WORKER_METRICS_PORT);
        await startWorkers(runtime, queues, options.concurrency ?? config.WORKER_CONCURRENCY);
      });
    });
}
