import { Gauge, type Registry } from 'prom-client';

/**
 * 1 while this process's change watcher watches its bot folders; 0 when it failed to start (`start`
 * runs on without it) or has stopped. A `watch` process that is down has no /metrics at all: its
 * scrape target's `up` says so.
 */
export function watcherRunningGauge(registry: Registry): Gauge {
  const gauge = new Gauge({
    name: 'ctp_etl_watcher_running',
    help: "1 while this process's change watcher watches its bot folders, 0 when it failed to start or stopped",
    registers: [registry],
  });
  gauge.set(0);
  return gauge;
}
