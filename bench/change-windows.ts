import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { syncBot } from '../src/bot-sync/sync-bot.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { benchEnv, machine, pushOneBot, timed } from './_bench-env.js';
import { changeOnePercent } from './_freqtrade-change.js';

/**
 * Change windows (issue 14). (a) One 10,000-trade bot (newest schema, every table, 50 open
 * trades: a bot with max_open_trades 50): its first full sync and full push, then ROUNDS times
 * 1% of its trades changed as FreqTrade changes them (half closed, half opened: see
 * _freqtrade-change.ts) and a sync and a push, which read change windows. Targets: the sync at
 * most 5% of the first full sync, the push at most 5% of the full push. (c) The fleet figure by
 * the same method as bench/scale.ts's "33 changed bots/s": the median sync of a 1,000-trade bot
 * after a 1% change, and what 2 workers x concurrency 4 do at that cost; target >= 10x 33/s.
 */
const TRADES = Math.max(1000, Math.round(10_000 * Number(process.env.BENCH_SCALE ?? '1')));
const ROUNDS = 7;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const env = await benchEnv('windows');
const ctx = contextForLocalRun(env.runtime);
const push = (instance: string) => pushOneBot(env, instance);

function bot(name: string, trades: number, seed: number): string {
  const file = botDbPath(env.config.BOT_INSTANCES_DIR, name);
  createBotDatabase(file, { trades, seed, openShare: 50 / trades });
  mkdirSync(env.config.TURSO_FILE_DIR, { recursive: true });
  writeFileSync(
    path.join(env.config.BOT_INSTANCES_DIR, name, 'sync-config.json'),
    JSON.stringify({ tursoUrl: `file:${path.join(env.config.TURSO_FILE_DIR, `${name}.db`)}`, enabled: true }),
  );
  return file;
}

try {
  process.stdout.write(`change windows; ${machine()}\n`);
  const file = bot('big', TRADES, 3);
  const firstSync = await timed(() => syncBot(ctx, 'big'));
  const fullCompare = await timed(() => syncBot(ctx, 'big', { full: true }));
  const fullPush = await timed(() => push('big'));
  const syncs: number[] = [];
  const pushes: number[] = [];
  let windowedSyncs = 0;
  let windowedPushes = 0;
  let written = 0;
  let pushed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    changeOnePercent(file, TRADES, 100 + round);
    const s = await timed(() => syncBot(ctx, 'big'));
    syncs.push(s.ms);
    if (s.value.fullCompare === undefined) windowedSyncs += 1;
    written += s.value.inserted + s.value.updated + s.value.deleted;
    const p = await timed(() => push('big'));
    pushes.push(p.ms);
    if (p.value.windows !== undefined) windowedPushes += 1;
    pushed += p.value.pushed + p.value.deleted;
  }
  const syncShare = median(syncs) / firstSync.ms;
  const pushShare = median(pushes) / fullPush.ms;
  const verdict = (share: number) => `${(share * 100).toFixed(2)}% (target <= 5%: ${share <= 0.05 ? 'met' : 'MISSED'})`;
  process.stdout.write(
    [
      `| (a) one bot, ${TRADES} trades (${firstSync.value.inserted} rows) | time |`,
      '| --- | --- |',
      `| first full sync | ${firstSync.ms} ms |`,
      `| full compare, nothing changed (--full-compare) | ${fullCompare.ms} ms |`,
      `| sync after 1% changed (median of ${ROUNDS}; ${windowedSyncs} read windows; ${written} rows written in all) | ${median(syncs)} ms (${syncs.join(', ')}) |`,
      `| full push | ${fullPush.ms} ms (${fullPush.value.pushed} rows) |`,
      `| push after 1% changed (median of ${ROUNDS}; ${windowedPushes} read windows; ${pushed} rows pushed in all) | ${median(pushes)} ms (${pushes.join(', ')}) |`,
      `sync after a 1% change / first full sync: ${verdict(syncShare)}; / full compare: ${((median(syncs) / fullCompare.ms) * 100).toFixed(2)}%`,
      `push after a 1% change / full push: ${verdict(pushShare)}`,
      '',
    ].join('\n'),
  );

  // (c) The same estimate bench/scale.ts made for today's 33 changed bots/s, with windows.
  const small = bot('fleet-bot', 1000, 9);
  await syncBot(ctx, 'fleet-bot');
  const small1 = await timed(() => syncBot(ctx, 'fleet-bot', { full: true }));
  const fleet: number[] = [];
  for (let round = 0; round < 20; round++) {
    changeOnePercent(small, 1000, 300 + round);
    fleet.push((await timed(() => syncBot(ctx, 'fleet-bot'))).ms);
  }
  const perSecond = Math.round((2 * 4 * 1000) / median(fleet));
  process.stdout.write(
    `(c) 1,000-trade bot, 1% changed: median sync ${median(fleet)} ms (every row compared: ${small1.ms} ms) -> ` +
      `2 workers x concurrency 4 do about ${perSecond} changed bots/s (target >= 330: ${perSecond >= 330 ? 'met' : 'MISSED'})\n`,
  );
} finally {
  await env.close();
}
