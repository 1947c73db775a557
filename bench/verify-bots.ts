import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { syncBot } from '../src/bot-sync/sync-bot.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { connectionEnv } from '../scripts/ctp-etl-child.js';
import { benchEnv, createW1Bots, machine, processCpuMs, SCALE, timed, trackPgBackendCpu } from './_bench-env.js';

/**
 * W1 (20 bots x 10,000 generated trades with their orders, newest FreqTrade schema), synced once;
 * then, on the unchanged bots, a forced full-compare sync of the 20 bots against `verify` of the
 * same 20 bots (every value of every trade and order). Target: verify in at most twice the time of
 * the full compare. Verify runs in a process of its own (bench/_verify-child.ts), so its peak RSS
 * is its own; its time is measured inside that process (start-up excluded).
 */
const BOTS = 20;
const TRADES = Math.max(100, Math.round(10_000 * SCALE));

const env = await benchEnv('verifybots');
const pgCpuMs = trackPgBackendCpu(env.runtime.pg);
const ctx = contextForLocalRun(env.runtime);
const { bots, sourceRows } = createW1Bots(env.config, BOTS, TRADES);
for (const bot of bots) await syncBot(ctx, bot);

const [nodeCpu, pgCpu] = [processCpuMs(), pgCpuMs()];
const compared = await timed(async () => {
  for (const bot of bots) await syncBot(ctx, bot, { full: true });
});
const comparedCpu = { nodeMs: Math.round(processCpuMs() - nodeCpu), pgMs: Math.round(pgCpuMs() - pgCpu) };

const child = spawnSync(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('./_verify-child.ts', import.meta.url)), ...bots],
  {
    env: { ...connectionEnv(env.config), BOT_INSTANCES_DIR: env.config.BOT_INSTANCES_DIR, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
  },
);
if (child.status !== 0) throw new Error(`verify child failed: ${child.stderr}`);
const verified = JSON.parse(child.stdout) as {
  ms: number;
  cpu: { nodeMs: number; pgMs: number };
  peakRssMb: number;
  ok: boolean;
  differences: number;
};
if (!verified.ok || verified.differences !== 0) throw new Error(`verify of unchanged bots not ok: ${child.stdout}`);

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
process.stdout.write(
  [
    `verify-bots: ${BOTS} bots x ${TRADES} trades with their orders (${sourceRows} source rows); ${machine()}`,
    '| run | wall time | CPU: node | CPU: PostgreSQL backends |',
    '| --- | --- | --- | --- |',
    `| forced full-compare sync of the ${BOTS} unchanged bots | ${seconds(compared.ms)} s | ${seconds(comparedCpu.nodeMs)} s | ${seconds(comparedCpu.pgMs)} s |`,
    `| verify of the ${BOTS} bots, every value of every trade and order | ${seconds(verified.ms)} s | ${seconds(verified.cpu.nodeMs)} s | ${seconds(verified.cpu.pgMs)} s |`,
    `verify / full compare: ${(verified.ms / compared.ms).toFixed(2)}x wall time (target at most 2x), ` +
      `${((verified.cpu.nodeMs + verified.cpu.pgMs) / (comparedCpu.nodeMs + comparedCpu.pgMs)).toFixed(2)}x CPU time; verify's peak RSS ${verified.peakRssMb} MB; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    '',
  ].join('\n'),
);
await env.close();
