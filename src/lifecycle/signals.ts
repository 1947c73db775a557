import type { Logger } from '../logger.js';

/**
 * The first SIGTERM/SIGINT runs `shutdown` (stop taking work, finish, close) and exits;
 * a second one forces the exit at once.
 */
export function onShutdownSignal(logger: Logger, shutdown: () => Promise<void>): void {
  let received = false;
  const handle = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn(`second ${signal}: exiting now`);
      process.exit(1);
    }
    received = true;
    logger.info(`${signal} received: shutting down`);
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { err: error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
