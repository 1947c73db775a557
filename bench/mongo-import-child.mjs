// The import process of bench/mongo-import.ts, in JavaScript so that it runs both from the
// TypeScript sources under tsx (BENCH_CODE=<repo>/src, `node --import tsx`) and from a build
// with plain node, as the container image runs it (BENCH_CODE=<build dir>). Its peak RSS is
// the import's own: the benchmark starts one process per source and runtime.
import { pathToFileURL } from 'node:url';

const code = pathToFileURL(`${process.env.BENCH_CODE}/`);
const load = (path) => import(new URL(path, code).href);
const { loadConfig } = await load('config.js');
const { runImport } = await load('import/run-import.js');
const { openFileSource } = await load('jobs/mongo-import/file-source.js');
const { openLiveSource } = await load('import/live-source.js');
const { snapshotsTarget, usersTarget } = await load('import/targets.js');
const { Runtime } = await load('runtime/runtime.js');
const { contextForLocalRun } = await load('workers/job-context.js');

const scale = Number(process.env.BENCH_SCALE ?? '0.1');
const source = process.env.BENCH_SOURCE === 'live' ? 'live' : 'file';
const runtimeName = process.env.BENCH_RUNTIME ?? 'tsx';
const config = loadConfig();
const runtime = new Runtime(config);
const ctx = contextForLocalRun(runtime);
const options = { batchSize: config.IMPORT_BATCH_SIZE, maxRejectRatio: 0 };
const log = (fields) =>
  process.stdout.write(`${JSON.stringify({ bench: 'mongo-import', scale, runtime: runtimeName, ...fields })}\n`);
const round = (value) => Math.round(value * 100) / 100;
try {
  let total = 0;
  await runtime.pg.query('SELECT 1');
  if (source === 'live') await runtime.mongo();
  log({ phase: `${source} import process ready`, rssMB: Math.round(process.memoryUsage().rss / 1e6) });
  const started = performance.now();
  const cpu = process.cpuUsage();
  for (const collection of ['users', 'portfoliosnapshots']) {
    const t0 = performance.now();
    const from =
      source === 'file'
        ? await openFileSource(
            collection,
            collection === 'users' ? process.env.BENCH_USERS_FILE : process.env.BENCH_SNAPSHOTS_FILE,
          )
        : await openLiveSource(collection, (await runtime.mongo()).db, collection, config.IMPORT_BATCH_SIZE);
    const result = await runImport(ctx, from, collection === 'users' ? usersTarget : snapshotsTarget, options);
    const seconds = (performance.now() - t0) / 1000;
    total += result.read;
    log({
      phase: `import ${collection} from ${source}`,
      documents: result.read,
      inserted: result.inserted,
      rejected: result.rejected,
      seconds: round(seconds),
      docsPerSecond: Math.round(result.read / seconds),
      rssMB: Math.round(process.memoryUsage().rss / 1e6),
    });
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  log({
    phase: `import all from ${source}`,
    documents: total,
    seconds: round(seconds),
    docsPerSecond: Math.round(total / seconds),
    cpuSeconds: round((used.user + used.system) / 1e6),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  });
} finally {
  await runtime.close();
}
