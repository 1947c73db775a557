import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { createRedis } from '../src/connections/redis.js';
import { benchEnv, machine, SCALE } from './_bench-env.js';
import { settleQueues, startCtpEtl } from './_ctp-etl-start.js';

/**
 * Freshness: BOTS bots (TRADES trades each) under `ctp-etl start` (shipped defaults: the watcher,
 * the schedules as the safety net, 2 jobs at once per queue), and a writer process that opens,
 * updates and closes trades at random in FreqTrade-like WAL transactions, RATE commits a second
 * in all, for SECONDS. Measured: the time from each commit to the moment PostgreSQL holds it (or a
 * later commit of the trade), polled every 50 ms; and to the Turso copy (libSQL file: targets):
 * the end of the first turso-push of the bot that started after the commit (a push reads one
 * snapshot after it starts), checked at the end against the copies themselves. Targets: p95 under
 * 2 s to PostgreSQL, under 5 s to Turso.
 */
const BOTS = Math.max(10, Math.round(200 * SCALE));
const TRADES = 500;
const RATE = 4;
const SECONDS = Math.max(20, Math.round(120 * SCALE));
const WRITER = fileURLToPath(new URL('./_freshness-writer.ts', import.meta.url));

interface Commit {
  bot: string;
  trade: number;
  marker: number;
  at: number;
  kind: string;
  pgMs?: number;
}

const env = await benchEnv('freshness');
const root = env.config.BOT_INSTANCES_DIR;
const targets = env.config.TURSO_FILE_DIR;
mkdirSync(targets, { recursive: true });
const bots = Array.from({ length: BOTS }, (_, i) => `bot-${String(i).padStart(3, '0')}`);
for (const [i, bot] of bots.entries()) {
  createBotDatabase(path.join(root, bot, 'user_data', 'tradesv3.sqlite'), { trades: TRADES, seed: i + 1 });
  writeFileSync(
    path.join(root, bot, 'sync-config.json'),
    JSON.stringify({ tursoUrl: `file:${bot}.db`, tursoToken: 'bench', enabled: true }),
  );
}

const app = await startCtpEtl(env.config, { KEEP_COMPLETED_COUNT: '100000' });

const redis = createRedis(env.config, 'producer');
const queues = {
  sync: new Queue('bot-sync', { connection: redis, prefix: env.config.QUEUE_PREFIX }),
  push: new Queue('turso-push', { connection: redis, prefix: env.config.QUEUE_PREFIX }),
};
const settle = (what: string, timeoutMs: number): Promise<void> => settleQueues(Object.values(queues), what, timeoutMs);

// First syncs and pushes of every bot, so the measurement sees a running fleet, not first syncs.
const warmStart = Date.now();
await queues.sync.addBulk(bots.map((bot) => ({ name: `bot-sync ${bot}`, data: { bot } })));
await queues.push.addBulk(bots.map((bot) => ({ name: `turso-push ${bot}`, data: { bot } })));
await settle('first syncs', 30 * 60_000);
const warmMs = Date.now() - warmStart;

const load = {
  before: loadavg()
    .map((n) => n.toFixed(2))
    .join(' '),
};
const measureStart = Date.now();
const commits: Commit[] = [];
const pending: Commit[] = [];
const writer = spawn(
  process.execPath,
  ['--import', 'tsx', WRITER, root, bots.join(','), String(RATE), String(SECONDS)],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
createInterface({ input: writer.stdout }).on('line', (line) => {
  const commit = JSON.parse(line) as Commit;
  commits.push(commit);
  pending.push(commit);
});
const writerDone = new Promise<void>((resolve) => writer.once('exit', () => resolve()));

// PostgreSQL: which pending commits a trade's row now holds (max_rate grows with every commit).
let writerEndedAt: number | undefined;
void writerDone.then(() => (writerEndedAt = Date.now()));
while (writerEndedAt === undefined || (pending.length > 0 && Date.now() < writerEndedAt + 60_000)) {
  if (pending.length > 0) {
    const { rows } = await env.runtime.pg.query<{ instance_id: string; trade_id: number; max_rate: string }>(
      `SELECT b.instance_id, t.trade_id, t.max_rate FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id
       JOIN unnest($1::text[], $2::int[]) AS p(bot, trade) ON p.bot = b.instance_id AND p.trade = t.trade_id`,
      [pending.map((c) => c.bot), pending.map((c) => c.trade)],
    );
    const now = Date.now();
    const held = new Map(rows.map((r) => [`${r.instance_id}/${r.trade_id}`, Number(r.max_rate)]));
    for (let i = pending.length - 1; i >= 0; i--) {
      const commit = pending[i]!;
      if ((held.get(`${commit.bot}/${commit.trade}`) ?? 0) >= commit.marker) {
        commit.pgMs = now - commit.at;
        pending.splice(i, 1);
      }
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
await writerDone;
const load1 = loadavg()
  .map((n) => n.toFixed(2))
  .join(' ');
await settle('last pushes', 5 * 60_000);

// Turso: the first completed push of the bot that started after the commit.
const pushes = (await queues.push.getCompleted(0, -1))
  .map((job) => ({
    // The payload names the bot `bot` (`instance` before; the contract renames old jobs' key).
    bot: (job.data as { bot: string }).bot,
    started: job.processedOn!,
    done: job.finishedOn!,
  }))
  .filter((p) => p.done >= measureStart)
  .sort((a, b) => a.done - b.done);
const tursoMs = commits.map((c) => {
  const push = pushes.find((p) => p.bot === c.bot && p.started > c.at);
  return push === undefined ? undefined : push.done - c.at;
});
// Where a job's time goes: waiting in its queue, then running.
async function jobTimes(queue: Queue): Promise<string> {
  const jobs = (await queue.getCompleted(0, -1)).filter((job) => job.timestamp >= measureStart);
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const waits = jobs.map((job) => job.processedOn! - job.timestamp);
  const runs = jobs.map((job) => job.finishedOn! - job.processedOn!);
  return `${jobs.length} jobs, median ${median(waits)} ms waiting (p95 ${waits.sort((a, b) => a - b)[Math.floor(waits.length * 0.95)] ?? 0} ms), median ${median(runs)} ms running`;
}
const syncTimes = await jobTimes(queues.sync);
const pushTimes = await jobTimes(queues.push);
// And the copies hold every commit: each trade's max_rate as in its bot's database.
let copyMismatches = 0;
for (const bot of new Set(commits.map((c) => c.bot))) {
  const read = (file: string): Map<number, number> => {
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare<[], { id: number; max_rate: number }>('SELECT id, max_rate FROM trades').all();
      return new Map(rows.map((r) => [r.id, r.max_rate]));
    } finally {
      db.close();
    }
  };
  const source = read(path.join(root, bot, 'user_data', 'tradesv3.sqlite'));
  const copy = read(path.join(targets, `${bot}.db`));
  for (const [id, value] of source) if (copy.get(id) !== value) copyMismatches += 1;
}

function percentiles(values: Array<number | undefined>): string {
  const seen = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  const at = (p: number): string => `${seen[Math.min(seen.length - 1, Math.ceil((p / 100) * seen.length) - 1)]} ms`;
  const missed = values.length - seen.length;
  return `${at(50)} / ${at(95)} / ${at(99)} (max ${seen.at(-1)} ms${missed > 0 ? `; ${missed} never seen` : ''})`;
}
const kinds = commits.reduce<Record<string, number>>((n, c) => ({ ...n, [c.kind]: (n[c.kind] ?? 0) + 1 }), {});
process.stdout.write(
  [
    `freshness: ${BOTS} bots x ${TRADES} trades under \`ctp-etl start\` (defaults: WATCH_DEBOUNCE 500ms, 2 jobs at once per queue), ` +
      `a writer committing ${RATE}/s for ${SECONDS} s; ${machine()}`,
    `load average (1, 5, 15 min) when writing began: ${load.before}; when it ended: ${load1}`,
    `first syncs and pushes of the ${BOTS} bots before measuring: ${(warmMs / 1000).toFixed(1)} s`,
    '| commit to | p50 / p95 / p99 | target |',
    '| --- | --- | --- |',
    `| PostgreSQL (${commits.length} commits: ${JSON.stringify(kinds)}) | ${percentiles(commits.map((c) => c.pgMs))} | p95 under 2 s |`,
    `| Turso copy (libSQL file: targets; ${pushes.length} pushes) | ${percentiles(tursoMs)} | p95 under 5 s |`,
    `Turso copies checked against the bots at the end: ${copyMismatches} trades differ`,
    `bot-sync: ${syncTimes}; turso-push: ${pushTimes}`,
    '',
  ].join('\n'),
);

await app.stop();
const stopped = /^.*"msg":"watcher stopped".*$/m.exec(app.log())?.[0];
const counts = stopped ? (JSON.parse(stopped) as { writes: number; syncs: number; pushes: number }) : undefined;
process.stdout.write(
  `watcher over the whole run: ${counts ? `${counts.writes} writes seen, ${counts.syncs} bot-sync and ${counts.pushes} turso-push enqueues` : 'no counts logged'}\n`,
);
await Promise.all(Object.values(queues).map((queue) => queue.close()));
redis.disconnect();
await env.close();
