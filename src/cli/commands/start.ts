import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { boardCredentials } from '../../http/http-app.js';
import { onShutdownSignal } from '../../lifecycle/signals.js';
import { parseQueueList } from '../../queues/queues.js';
import { Runtime } from '../../runtime/runtime.js';
import {
  createScheduler,
  prepareProcess,
  startBoard,
  startOrClose,
  startWatcher,
  startWorkers,
  watcherUnavailable,
} from '../../roles/roles.js';
import { errorMessage } from '../../errors.js';
import { parsePositiveInt } from '../options.js';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'every role in one process: scheduler, workers for all queues and the board (small installs, the demo)',
    )
    .option('--port <n>', 'board port (default: BOARD_PORT)', parsePositiveInt('--port'))
    .option(
      '--concurrency <n>',
      'jobs run at once per queue (default: WORKER_CONCURRENCY)',
      parsePositiveInt('--concurrency'),
    )
    .action(async (options: { port?: number; concurrency?: number }) => {
      const config = loadConfig();
      boardCredentials(config);
      const runtime = new Runtime(config);
      onShutdownSignal(runtime.logger, config.SHUTDOWN_TIMEOUT, () => runtime.close());
      await startOrClose(runtime, async () => {
        await prepareProcess(runtime);
        // The board first: a port in use then fails the start before any job is taken.
        await startBoard(runtime, options.port ?? config.BOARD_PORT);
        await startWorkers(
          runtime,
          parseQueueList(config.WORKER_QUEUES),
          options.concurrency ?? config.WORKER_CONCURRENCY,
        );
        await startWatcherIfAny(runtime);
        (await createScheduler(runtime)).start();
      });
    });
}

/**
 * `start` watches its bot folders too, unless it cannot (WATCH_MODE=off, no folder of bots here):
 * then it runs on without, its bots synced by the schedules alone, and says why.
 */
async function startWatcherIfAny(runtime: Runtime): Promise<void> {
  const unavailable = watcherUnavailable(runtime.config);
  if (unavailable !== undefined) {
    runtime.logger.info('watcher not started; bots are synced on their schedules only', { reason: unavailable });
    return;
  }
  try {
    await startWatcher(runtime);
  } catch (error) {
    runtime.logger.error(`watcher not started; bots are synced on their schedules only: ${errorMessage(error)}`);
  }
}
