import type { Job } from 'bullmq';
import { Counter, Histogram, type Registry } from 'prom-client';

/** The counts a job's result may carry, each a value of the rows-written counter's `kind` label. */
const ROW_KINDS = ['inserted', 'updated', 'deleted', 'pushed'] as const;
export type RowKind = (typeof ROW_KINDS)[number];

/**
 * Job durations and rows written, observed by the worker pool as jobs finish. They live in the
 * process that ran the job: `ctp-etl start` serves them on the board's /metrics, a separate
 * `ctp-etl worker` on WORKER_METRICS_PORT. (Working them out from Redis on scrape instead
 * would count each job once per board replica and miss jobs retention already removed.)
 */
export class JobMetrics {
  private readonly duration: Histogram<'job' | 'outcome'>;
  private readonly rows: Counter<'job' | 'kind'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'ctp_etl_job_duration_seconds',
      help: 'Time a job attempt ran on a worker, by job type and outcome (completed, failed)',
      labelNames: ['job', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
      registers: [registry],
    });
    this.rows = new Counter({
      name: 'ctp_etl_rows_written_total',
      help: 'Rows written by completed jobs, by job type and kind (inserted, updated, deleted, pushed)',
      labelNames: ['job', 'kind'],
      registers: [registry],
    });
  }

  observe(
    jobType: string,
    job: Pick<Job, 'processedOn' | 'finishedOn'>,
    outcome: 'completed' | 'failed',
    result?: unknown,
  ): void {
    if (job.processedOn !== undefined) {
      // A failed attempt that will be retried has no finishedOn yet: it ended just now.
      const ms = Math.max(0, (job.finishedOn ?? Date.now()) - job.processedOn);
      this.duration.observe({ job: jobType, outcome }, ms / 1000);
    }
    if (outcome !== 'completed') return;
    for (const [kind, count] of Object.entries(rowCounts(result))) {
      if (count > 0) this.rows.inc({ job: jobType, kind }, count);
    }
  }
}

/**
 * Rows written, read from a job's result: numeric `inserted`/`updated`/`deleted`/`pushed`
 * fields at its top level, or, when there are none there, summed over the objects one level
 * down (`{ trades: { inserted }, orders: { inserted } }`), so totals are never counted twice.
 */
export function rowCounts(result: unknown): Partial<Record<RowKind, number>> {
  if (!isRecord(result)) return {};
  const top = countsIn(result);
  if (Object.keys(top).length > 0) return top;
  const summed: Partial<Record<RowKind, number>> = {};
  for (const value of Object.values(result)) {
    if (!isRecord(value)) continue;
    for (const [kind, count] of Object.entries(countsIn(value)) as Array<[RowKind, number]>) {
      summed[kind] = (summed[kind] ?? 0) + count;
    }
  }
  return summed;
}

function countsIn(record: Record<string, unknown>): Partial<Record<RowKind, number>> {
  const counts: Partial<Record<RowKind, number>> = {};
  for (const kind of ROW_KINDS) {
    const value = record[kind];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) counts[kind] = value;
  }
  return counts;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
