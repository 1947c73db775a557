import { errorMessage } from '../errors.js';

/** Where an `error` event came from: the label of `ctp_etl_error_events_total` (monitoring/error-events.ts). */
export type ErrorSource = 'redis' | 'postgres' | 'queue' | 'worker' | 'watcher';

/** How often one source may log an error event; the ones in between are counted, not logged. */
export const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * The `error` listener of a connection or queue made without the runtime's (a test, a benchmark, a
 * library user's own code): the errors are still seen, as a line on stderr at most once every
 * ERROR_LOG_INTERVAL_MS per connection or queue, never dropped without a trace.
 */
export function unobservedErrors(source: ErrorSource): (error: unknown) => void {
  let lastLine = -Infinity;
  return (error) => {
    const now = Date.now();
    if (now - lastLine < ERROR_LOG_INTERVAL_MS) return;
    lastLine = now;
    process.stderr.write(`ctp-etl: ${source} error: ${errorMessage(error)}\n`);
  };
}
