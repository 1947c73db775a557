import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { onShutdownSignal } from '../../lifecycle/signals.js';
import { Runtime } from '../../runtime/runtime.js';
import { startOrClose, startWatcher, startWorkerMetrics } from '../../roles/roles.js';

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description(
      "the change watcher: a bot's database writes enqueue its bot-sync (and turso-push) within WATCH_DEBOUNCE; run it on the host that mounts the bot folders",
    )
    .action(async () => {
      const config = loadConfig();
      const runtime = new Runtime(config);
      onShutdownSignal(runtime.logger, config.SHUTDOWN_TIMEOUT, () => runtime.close());
      await startOrClose(runtime, async () => {
        if (config.WORKER_METRICS_PORT !== undefined)
          await startWorkerMetrics(runtime, config.WORKER_METRICS_PORT, 'watch');
        await startWatcher(runtime);
      });
    });
}
