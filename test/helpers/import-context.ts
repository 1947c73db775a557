import type { JobContext } from '../../src/jobs/job.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { contextForLocalRun } from '../../src/workers/job-context.js';

export interface ImportContext {
  ctx: JobContext;
  logs: string[];
  progress: unknown[];
}

/**
 * An in-process job context that records logs and progress. `abortAfterBatches` aborts the
 * job's signal once that many batches have committed (progress is reported after each commit),
 * which is how the tests crash an import halfway.
 */
export function importContext(
  runtime: Runtime,
  options: { abortAfterBatches?: number; attempt?: number } = {},
): ImportContext {
  const abort = new AbortController();
  const base = contextForLocalRun(runtime, abort.signal);
  const logs: string[] = [];
  const progress: unknown[] = [];
  const ctx: JobContext = {
    ...base,
    attempt: options.attempt ?? 1,
    async log(line) {
      logs.push(line);
    },
    async progress(value) {
      progress.push(value);
      if (options.abortAfterBatches !== undefined && progress.length >= options.abortAfterBatches) abort.abort();
    },
  };
  return { ctx, logs, progress };
}
