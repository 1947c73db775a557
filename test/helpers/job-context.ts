import type { JobContext } from '../../src/jobs/job.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { contextForLocalRun } from '../../src/workers/job-context.js';

export interface RecordingContext extends JobContext {
  readonly lines: string[];
  readonly progressValues: Array<number | Record<string, number>>;
}

/**
 * The one test ctx: the production in-process ctx (`contextForLocalRun`) over a test's runtime,
 * keeping the job's log lines and progress to assert on. `abortAfterBatches` aborts the job's
 * signal once that many progress reports came (an import reports after each committed batch),
 * which is how tests crash a job halfway; `operatorShell: false` makes it a worker's ctx.
 */
export function recordingContext(
  runtime: Runtime,
  options: {
    signal?: AbortSignal;
    attempt?: number;
    onProgress?: () => void;
    abortAfterBatches?: number;
    operatorShell?: boolean;
  } = {},
): RecordingContext {
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const base = contextForLocalRun(runtime, signal, { operatorShell: options.operatorShell ?? true });
  const lines: string[] = [];
  const progressValues: Array<number | Record<string, number>> = [];
  return {
    ...base,
    attempt: options.attempt ?? 1,
    lines,
    progressValues,
    async log(line) {
      lines.push(line);
    },
    async progress(value) {
      progressValues.push(value);
      options.onProgress?.();
      if (options.abortAfterBatches !== undefined && progressValues.length >= options.abortAfterBatches) abort.abort();
    },
  };
}
