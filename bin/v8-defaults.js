// V8 lets a small heap's old generation grow to up to four times what its last full collection
// kept before collecting again. A worker's jobs and a scheduler's passes leave garbage there
// (BullMQ's per-job state, a pass's pages of schedules that outlive two young collections), so
// RSS rose by 50 to 80 MB between full collections. Collecting once it has grown by a fifth keeps
// RSS flat at no measured cost in jobs/s (BENCHMARKS.md, "Memory over time"). Imported first by
// bin/ctp-etl.js (and by the memory benchmarks, to measure what ships); a --heap-growing-percent
// given to node itself wins.
import { setFlagsFromString } from 'node:v8';

if (!process.execArgv.some((flag) => flag.startsWith('--heap-growing-percent'))) {
  setFlagsFromString('--heap-growing-percent=20');
}
