import type { JobContext } from '../../src/jobs/job.js';
import type { Runtime } from '../../src/runtime/runtime.js';

export interface RecordingContext extends JobContext {
  readonly lines: string[];
  readonly progressValues: Array<number | Record<string, number>>;
}

/** A handler ctx over a test's runtime that keeps the job's log lines and progress to assert on. */
export function recordingContext(
  runtime: Runtime,
  options: { signal?: AbortSignal; attempt?: number; onProgress?: () => void } = {},
): RecordingContext {
  const lines: string[] = [];
  const progressValues: Array<number | Record<string, number>> = [];
  return {
    config: runtime.config,
    pg: runtime.pg,
    mongo: runtime.mongo,
    logger: runtime.logger,
    signal: options.signal ?? new AbortController().signal,
    attempt: options.attempt ?? 1,
    jobId: undefined,
    lines,
    progressValues,
    async log(line) {
      lines.push(line);
    },
    async progress(value) {
      progressValues.push(value);
      options.onProgress?.();
    },
  };
}
