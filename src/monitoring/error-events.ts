import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { ERROR_LOG_INTERVAL_MS, type ErrorSource } from '../connections/connection-errors.js';

/**
 * The one listener for `error` events of connections and queues (ioredis reconnecting, an idle
 * pg client dropped, a BullMQ queue losing Redis). These errors also surface on the calls that
 * need the connection, so none stops the process; each is counted in /metrics by source and
 * logged as a warning, at most once per source every ERROR_LOG_INTERVAL_MS (an outage gives a
 * few lines, not thousands), with how many were left out. The logger masks secrets.
 */
export class ErrorEvents {
  private readonly counter: Counter<'source'>;
  private readonly lastLogged = new Map<ErrorSource, { at: number; skipped: number }>();

  constructor(
    private readonly logger: Logger,
    registry: Registry,
    private readonly intervalMs = ERROR_LOG_INTERVAL_MS,
  ) {
    this.counter = new Counter({
      name: 'ctp_etl_error_events_total',
      help: 'error events from connections and queues (Redis, PostgreSQL, BullMQ queues and workers) and the change watcher, by source',
      labelNames: ['source'],
      registers: [registry],
    });
  }

  /** A listener for `emitter.on('error', ...)`; `fields` say which connection (never its secrets). */
  listener(source: ErrorSource, fields: Record<string, unknown> = {}): (error: unknown) => void {
    return (error) => this.report(source, error, fields);
  }

  report(source: ErrorSource, error: unknown, fields: Record<string, unknown> = {}): void {
    this.counter.inc({ source });
    const now = Date.now();
    const last = this.lastLogged.get(source);
    if (last && now - last.at < this.intervalMs) {
      last.skipped += 1;
      return;
    }
    this.lastLogged.set(source, { at: now, skipped: 0 });
    this.logger.warn(`${source} error: ${errorMessage(error)}`, {
      source,
      ...fields,
      ...(last && last.skipped > 0 ? { skippedSinceLastLine: last.skipped } : {}),
    });
  }
}
