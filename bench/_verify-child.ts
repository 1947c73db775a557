import { loadConfig } from '../src/config.js';
import { Runtime } from '../src/runtime/runtime.js';
import { verifyBots } from '../src/verify/verify-bots.js';
import { peakRssMb, processCpuMs, timed, trackPgBackendCpu } from './_bench-env.js';

/** `verify` of the bots named in argv, in this process: prints its time, CPU time (this process, its PostgreSQL backends), peak RSS and outcome as JSON. */
const runtime = new Runtime(loadConfig());
const pgCpuMs = trackPgBackendCpu(runtime.pg);
try {
  const nodeCpu = processCpuMs();
  const { ms, value } = await timed(() => verifyBots(runtime.config, runtime.pg, process.argv.slice(2)));
  const cpu = { nodeMs: Math.round(processCpuMs() - nodeCpu), pgMs: Math.round(pgCpuMs()) };
  const differences = value.reduce((n, check) => n + (check.differences?.total ?? 0), 0);
  const errors = value.flatMap((check) => (check.error === undefined ? [] : [`${check.bot}: ${check.error}`]));
  process.stdout.write(
    `${JSON.stringify({ ms, cpu, peakRssMb: peakRssMb(), ok: value.every((c) => c.ok), differences, errors })}\n`,
  );
} finally {
  await runtime.close();
}
