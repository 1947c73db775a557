import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { onShutdownSignal } from '../../lifecycle/signals.js';
import { Runtime } from '../../runtime/runtime.js';
import { createScheduler, prepareProcess, startOrClose } from '../../roles/roles.js';

export function registerScheduler(program: Command): void {
  program
    .command('scheduler')
    .description('bot discovery and repeatable job schedules (any number may run: one leads, the others stand by)')
    .option('--once', 'one discovery and schedule pass, printed as JSON, then exit')
    .action(async (options: { once?: boolean }) => {
      const config = loadConfig();
      const runtime = new Runtime(config);
      if (options.once) {
        try {
          await prepareProcess(runtime);
          const pass = await (await createScheduler(runtime, { once: true })).runOnce();
          process.stdout.write(`${JSON.stringify(pass)}\n`);
        } finally {
          await runtime.close();
        }
        return;
      }
      onShutdownSignal(runtime.logger, config.SHUTDOWN_TIMEOUT, () => runtime.close());
      await startOrClose(runtime, async () => {
        await prepareProcess(runtime);
        (await createScheduler(runtime)).start();
      });
      runtime.logger.info('scheduler started', {
        discoveryInterval: config.DISCOVERY_INTERVAL,
        syncInterval: config.SYNC_INTERVAL,
      });
    });
}
