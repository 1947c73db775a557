import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import { syncBot, type BotSyncResult } from '../src/bot-sync/sync-bot.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { copyFloor, createFloorTables, exportSyncedRows } from './_copy-floor.js';
import {
  benchEnv,
  createW1Bots,
  machine,
  peakRssMb,
  processCpuMs,
  SCALE,
  timed,
  trackPgBackendCpu,
} from './_bench-env.js';

/**
 * 20 bots x 10,000 generated trades (newest FreqTrade schema, about 2.4 orders per trade: filled,
 * cancelled and open ones, partial exits; 5% open):
 * a first full sync against the COPY floor of the same rows (_copy-floor.ts), a sync of unchanged
 * bots, a forced full compare of unchanged bots, and a sync after 1% of each bot's trades
 * changed. Bots are synced one after the other.
 */
const BOTS = 20;
const TRADES = Math.max(100, Math.round(10_000 * SCALE));

const env = await benchEnv('botsync');
const pgCpuMs = trackPgBackendCpu(env.runtime.pg);
const ctx = contextForLocalRun(env.runtime);
const { bots, sourceRows } = createW1Bots(env.config, BOTS, TRADES);

/**
 * The first sync and its COPY floor, bot by bot in turn (sync a bot, then load the same rows into
 * the floor tables), so both see the same load on a shared machine; each figure is the sum of
 * its per-bot times.
 */
const floorClient = await env.runtime.pg.connect();
await createFloorTables(floorClient);
const first = { ms: 0, written: 0, results: [] as BotSyncResult[], nodeCpuMs: 0, pgCpuMs: 0 };
const floor = { ms: 0, value: 0, nodeCpuMs: 0, pgCpuMs: 0 };
/** Adds a run's node and PostgreSQL CPU time to `into`. */
async function cpuOf<T>(into: { nodeCpuMs: number; pgCpuMs: number }, run: () => Promise<T>): Promise<T> {
  const [node, pg] = [processCpuMs(), pgCpuMs()];
  const value = await run();
  into.nodeCpuMs += processCpuMs() - node;
  into.pgCpuMs += pgCpuMs() - pg;
  return value;
}
for (const bot of bots) {
  const synced = await cpuOf(first, () => timed(() => syncBot(ctx, bot)));
  first.ms += synced.ms;
  first.written += synced.value.inserted;
  first.results.push(synced.value);
  const { rows } = await floorClient.query<{ id: string }>('SELECT id FROM bots WHERE instance_id = $1', [bot]);
  const exported = await exportSyncedRows(floorClient, rows[0]!.id);
  const copied = await cpuOf(floor, () => timed(() => copyFloor(floorClient, exported)));
  floor.ms += copied.ms;
  floor.value += copied.value;
}
floorClient.release();

async function syncAll(
  options: { full?: boolean } = {},
): Promise<{ ms: number; written: number; results: BotSyncResult[] }> {
  const { ms, value } = await timed(async () => {
    const results: BotSyncResult[] = [];
    for (const bot of bots) results.push(await syncBot(ctx, bot, options));
    return results;
  });
  return { ms, written: value.reduce((n, r) => n + r.inserted + r.updated + r.deleted, 0), results: value };
}

const full = first;
const unchanged = await syncAll();
const compared = await syncAll({ full: true });
for (const bot of bots) {
  const db = new Database(botDbPath(env.config.BOT_INSTANCES_DIR, bot));
  db.prepare('UPDATE trades SET close_profit_abs = coalesce(close_profit_abs, 0) + 1 WHERE id % 100 = 0').run();
  db.close();
}
const onePercent = await syncAll();

const seconds = (ms: number): string => (ms / 1000).toFixed(1);
const line = (name: string, r: { ms: number; written: number }): string =>
  `| ${name} | ${(r.ms / 1000).toFixed(2)} s | ${r.written} | ${r.written === 0 ? '-' : Math.round(r.written / (r.ms / 1000))} |`;
process.stdout.write(
  [
    `bot-sync: ${BOTS} bots x ${TRADES} trades with their orders (${sourceRows} source rows); ${machine()}`,
    '| run | wall time | rows written | rows written/s |',
    '| --- | --- | --- | --- |',
    `| COPY floor (the same rows, every column, as COPY text in memory; plain COPY into tables with the same indexes) | ${(floor.ms / 1000).toFixed(2)} s | ${floor.value} | ${Math.round(floor.value / (floor.ms / 1000))} |`,
    line('first sync (all rows)', full),
    line('nothing changed (fingerprint: nothing read)', unchanged),
    line('nothing changed, forced full compare', compared),
    line('1% of trades changed', onePercent),
    `full sync / COPY floor: ${(full.ms / floor.ms).toFixed(2)}x; no-change re-sync of ${BOTS} bots: ${unchanged.ms} ms; ` +
      `1% change wrote ${onePercent.written} rows; peak RSS ${peakRssMb()} MB`,
    `CPU time, this process / its PostgreSQL backends: first sync ${seconds(first.nodeCpuMs)} / ${seconds(first.pgCpuMs)} s, ` +
      `COPY floor ${seconds(floor.nodeCpuMs)} / ${seconds(floor.pgCpuMs)} s (PostgreSQL alone: ${(first.pgCpuMs / floor.pgCpuMs).toFixed(2)}x); ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    '',
  ].join('\n'),
);
await env.close();
