import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { onShutdownSignal } from '../../lifecycle/signals.js';
import { Runtime } from '../../runtime/runtime.js';
import { createScheduler, prepareProcess } from './roles.js';

export function registerScheduler(program: Command): void {
  program
    .command('scheduler')
    .description('bot discovery and repeatable job schedules (any number may run: one leads, the others stand by)')
    .option('--once', 'one discovery and schedule pass, printed as JSON, then exit')
    .action(async (options: { once?: boolean }) => {
      const config = loadConfig();
      const runtime = new Runtime(config);
      await prepareProcess(runtime);
      const scheduler = await createScheduler(runtime, { once: options.once === true });
      if (options.once) {
        try {
          const pass = await scheduler.runOnce();
          process.stdout.write(`${JSON.stringify(pass)}\n`);
        } finally {
          await runtime.close();
        }
        return;
      }
      onShutdownSignal(runtime.logger, config.SHUTDOWN_TIMEOUT, () => runtime.close());
      scheduler.start();
      runtime.logger.info('scheduler started', {
        discoveryInterval: config.DISCOVERY_INTERVAL,
        syncInterval: config.SYNC_INTERVAL,
      });
    });
}
