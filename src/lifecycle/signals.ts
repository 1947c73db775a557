import type { Logger } from '../logger.js';

/** How long past SHUTDOWN_TIMEOUT a shutdown may take before the process exits regardless. */
const SHUTDOWN_MARGIN_MS = 8_000;

/**
 * The first SIGTERM/SIGINT runs `shutdown` (stop taking work, finish or hand back, close) and
 * exits; a second one forces the exit at once. Whatever hangs (a Redis that is down, a query
 * that ignores its signal), the process ends within `shutdownTimeoutMs` + SHUTDOWN_MARGIN_MS.
 */
export function onShutdownSignal(logger: Logger, shutdownTimeoutMs: number, shutdown: () => Promise<void>): void {
  let received = false;
  const handle = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn(`second ${signal}: exiting now`);
      process.exit(1);
    }
    received = true;
    logger.info(`${signal} received: shutting down`);
    const deadlineMs = shutdownTimeoutMs + SHUTDOWN_MARGIN_MS;
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting', { deadlineMs });
      process.exit(1);
    }, deadlineMs).unref();
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
