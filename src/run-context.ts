import type { PgPool } from './connections/postgres.js';
import type { Logger } from './logger.js';

/**
 * What a domain's run (a bot's sync, an import) is given by whoever runs it: a job
 * (jobs/job.ts's JobContext extends it), `ctp-etl run`, a benchmark or a test. A domain adds
 * the settings it reads, as `config: Pick<Config, ...>`.
 */
export interface RunContext {
  readonly pg: PgPool;
  readonly logger: Logger;
  /** A line an operator reads in Bull Board's job log (and in the process log). */
  readonly log: (line: string) => Promise<void>;
  /** 0..100, or an object such as { done, total }. */
  readonly progress: (value: number | Record<string, number>) => Promise<void>;
  /** Aborted when the job is cancelled or the worker is shutting down past its timeout. */
  readonly signal: AbortSignal;
  /** The job's id, where rejects and logs name it; undefined for an in-process run. */
  readonly jobId: string | undefined;
}
