import { loadConfig } from '../src/config.js';
import { Runtime } from '../src/runtime/runtime.js';
import { verifyBots } from '../src/verify/verify-bots.js';
import { peakRssMb, timed } from './_bench-env.js';

/** `verify` of the bots named in argv, in this process: prints its time, peak RSS and outcome as JSON. */
const runtime = new Runtime(loadConfig());
try {
  const { ms, value } = await timed(() => verifyBots(runtime.config, runtime.pg, process.argv.slice(2)));
  const differences = value.reduce((n, check) => n + (check.differences?.total ?? 0), 0);
  const errors = value.flatMap((check) => (check.error === undefined ? [] : [`${check.bot}: ${check.error}`]));
  process.stdout.write(
    `${JSON.stringify({ ms, peakRssMb: peakRssMb(), ok: value.every((c) => c.ok), differences, errors })}\n`,
  );
} finally {
  await runtime.close();
}
