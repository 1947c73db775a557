import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { boardCredentials } from '../../http/http-app.js';
import { onShutdownSignal } from '../../lifecycle/signals.js';
import { Runtime } from '../../runtime/runtime.js';
import { startBoard, startOrClose } from '../../roles/roles.js';
import { parsePositiveInt } from '../options.js';

export function registerBoard(program: Command): void {
  program
    .command('board')
    .description('serve Bull Board at /admin/queues, /health and /metrics')
    .option('--port <n>', 'port to listen on (default: BOARD_PORT)', parsePositiveInt('--port'))
    .action(async (options: { port?: number }) => {
      const config = loadConfig();
      boardCredentials(config); // refuse before opening anything
      const runtime = new Runtime(config);
      onShutdownSignal(runtime.logger, config.SHUTDOWN_TIMEOUT, () => runtime.close());
      await startOrClose(runtime, async () => {
        await startBoard(runtime, options.port ?? config.BOARD_PORT);
      });
    });
}
