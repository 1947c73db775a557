import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Queue, QueueEvents } from 'bullmq';
import { createBotDatabase } from '../scripts/freqtrade/generate-bot-db.js';
import { botDbPath } from '../scripts/freqtrade/fixtures.js';
import { random } from '../scripts/freqtrade/trade-plan.js';
import { createRedis } from '../src/connections/redis.js';
import { parseDuration } from '../src/duration.js';
import { benchEnv, machine } from './_bench-env.js';
import { cpuMsOf, pgBackendsOf, startWorkers, stopWorkers } from './_bench-workers.js';
import { settleQueues, startCtpEtl, type StartedApp } from './_ctp-etl-start.js';
import { rowState, type LoopCommit, type LoopPlan, type RowState } from './_freqtrade-loop.js';

/**
 * Live fleet (issue 25, items 1 and 5): what users see of N FreqTrade bots in a moving market,
 * under `ctp-etl start` (scheduler, watcher, workers; shipped defaults), plus LIVE_FLEET_WORKERS
 * more `ctp-etl worker` processes. The bots have mixed sizes (300 to 10,000 trades), spot and
 * futures, a share pushing to Turso (libSQL `file:` targets); driver processes (_freqtrade-loop.ts)
 * write them as FreqTrade's process loop does. For each N of LIVE_FLEET_BOTS, held for
 * LIVE_FLEET_HOLD: commit -> PostgreSQL (until PostgreSQL holds that commit's rows or a later
 * commit's, polled), commit -> Turso (the end of the first push of the bot that started after the
 * commit), both p50 / p95 / p99, per-bot p95s, syncs and pushes a second, CPU (ms a second) of the
 * workers, their PostgreSQL backends and redis-server, and whether lag grows (first third of the
 * hold against the last, medians). An N holds when PostgreSQL p95 < 2 s, Turso p95 < 10 s, lag does not
 * grow and every commit arrived; an N that clearly fails (p95 over twice its bound for a minute)
 * is stopped early, and the search stops at the first N that fails (LIVE_FLEET_ALL=1: run all).
 * Each N adds bots to the previous N's fleet, so only the new bots' first syncs are paid.
 */

function setting(name: string, fallback: string): string {
  return process.env[name] ?? fallback;
}
function durationSetting(name: string, fallback: string): number {
  const ms = parseDuration(setting(name, fallback));
  if (ms === undefined) throw new Error(`${name}: expected a duration such as 10m, 180s or 500ms`);
  return ms;
}
function numberSetting(name: string, fallback: string, min: number, max: number): number {
  const value = Number(setting(name, fallback));
  if (!Number.isFinite(value) || value < min || value > max)
    throw new Error(`${name}: expected a number from ${min} to ${max}, got "${process.env[name]}"`);
  return value;
}

const SIZES = setting('LIVE_FLEET_BOTS', '100,200,300,600,1000,2000')
  .split(',')
  .map((text) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`LIVE_FLEET_BOTS: expected bot counts such as 100,300,600`);
    return n;
  })
  .sort((a, b) => a - b);
const HOLD_MS = durationSetting('LIVE_FLEET_HOLD', '10m');
const EXTRA_WORKERS = numberSetting('LIVE_FLEET_WORKERS', '0', 0, 16);
const DRIVERS = numberSetting('LIVE_FLEET_DRIVERS', '1', 1, 8);
const PUSH_SHARE = numberSetting('LIVE_FLEET_PUSH_SHARE', '0.2', 0, 1);
const FUTURES_SHARE = numberSetting('LIVE_FLEET_FUTURES_SHARE', '0.5', 0, 1);
const RUN_ALL = setting('LIVE_FLEET_ALL', '0') === '1';
/** A directory: the `start` and worker processes write V8 CPU profiles there when they exit. */
const PROFILE_DIR = setting('LIVE_FLEET_PROFILE', '');
/** KEY=VALUE,...: settings of the `start` and worker processes other than the shipped defaults, for experiments. */
const SETTINGS = Object.fromEntries(
  setting('LIVE_FLEET_SET', '')
    .split(',')
    .filter((pair) => pair.trim() !== '')
    .map((pair) => {
      const [key, ...value] = pair.split('=');
      if (key === undefined || value.length === 0)
        throw new Error(`LIVE_FLEET_SET: expected KEY=VALUE,..., got "${pair}"`);
      return [key.trim(), value.join('=')];
    }),
);
const profileEnv: Record<string, string> = {
  ...SETTINGS,
  ...(PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` } : {}),
};
const LOOP: Omit<LoopPlan, 'bots' | 'seconds'> = {
  tickMs: durationSetting('LIVE_FLEET_TICK', '5s'),
  tradeEveryMs: durationSetting('LIVE_FLEET_TRADE_EVERY', '5m'),
  fundingEveryMs: 30 * 60_000,
  moveShare: numberSetting('LIVE_FLEET_MOVE_SHARE', '1', 0, 1),
  maxOpenTrades: 5,
};
/** How often PostgreSQL is asked which commits it holds: a commit's figure is late by at most this. */
const POLL_MS = durationSetting('LIVE_FLEET_POLL', '250ms');
const PG_BOUND_MS = 2_000;
const TURSO_BOUND_MS = 10_000;
/** After the hold, how long commits not yet seen are waited for. */
const DRAIN_MS = 60_000;
const TRADE_SIZES = [300, 600, 1_200, 2_500, 5_000, 10_000];
const LOOP_SCRIPT = fileURLToPath(new URL('./_freqtrade-loop.ts', import.meta.url));

interface BotSpec {
  bot: string;
  trades: number;
  futures: boolean;
  push: boolean;
  seed: number;
}

/** Bot i of every fleet: the same size, market and Turso choice whatever N. */
function botSpec(i: number): BotSpec {
  const r = random(90_001 + i);
  return {
    bot: `live-${String(i).padStart(4, '0')}`,
    trades: TRADE_SIZES[Math.floor(r() * TRADE_SIZES.length)]!,
    futures: r() < FUTURES_SHARE,
    push: r() < PUSH_SHARE,
    seed: i + 1,
  };
}

interface Commit {
  bot: string;
  seq: number;
  at: number;
  kind: LoopCommit['kind'];
  trades: number[];
  push: boolean;
  pgMs?: number;
  tursoMs?: number;
}

interface RunResult {
  bots: number;
  holdMs: number;
  stoppedEarly: string | undefined;
  load: string;
  commits: Commit[];
  unseenPg: number;
  unseenTurso: number;
  syncs: number;
  pushes: number;
  failedJobs: number;
  syncKinds: Record<string, number>;
  cpu: { workers: number; pg: number; redis: number; drivers: number; bench: number };
  copyMismatches: number;
  pushedBots: number;
}

const env = await benchEnv('live_fleet');
const root = env.config.BOT_INSTANCES_DIR;
const templates = path.join(env.dir, 'templates');
mkdirSync(templates, { recursive: true });
mkdirSync(env.config.TURSO_FILE_DIR, { recursive: true });
const redis = createRedis(env.config, 'producer');
const queues = {
  sync: new Queue('bot-sync', { connection: redis, prefix: env.config.QUEUE_PREFIX }),
  push: new Queue('turso-push', { connection: redis, prefix: env.config.QUEUE_PREFIX }),
};
const specs: BotSpec[] = [];

/** Bots specs.length..n-1 put in place: a copy of their size and market's template (generated once, dated by the clock). */
function addBots(n: number): BotSpec[] {
  const added: BotSpec[] = [];
  for (let i = specs.length; i < n; i++) {
    const spec = botSpec(i);
    const template = path.join(templates, `${spec.trades}-${spec.futures ? 'futures' : 'spot'}.sqlite`);
    if (!existsSync(template))
      createBotDatabase(template, {
        trades: spec.trades,
        seed: spec.trades + (spec.futures ? 1 : 0),
        tradingMode: spec.futures ? 'futures' : 'spot',
        // FreqTrade's max_open_trades: a few open at a time, whatever the bot's history.
        openShare: 3 / spec.trades,
      });
    const file = botDbPath(root, spec.bot);
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(template, file);
    if (spec.push)
      writeFileSync(
        path.join(root, spec.bot, 'sync-config.json'),
        JSON.stringify({ tursoUrl: `file:${spec.bot}.db`, tursoToken: 'bench', enabled: true }),
      );
    specs.push(spec);
    added.push(spec);
  }
  return added;
}

/** The pid of the redis-server on REDIS_URL's port (its CPU is the whole server's: other users' too). */
function redisPid(): number | undefined {
  const port = new URL(env.config.REDIS_URL).port || '6379';
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.startsWith('redis-server') && cmdline.includes(`:${port}`)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
const sortedOf = (values: Iterable<number>): number[] => [...values].sort((a, b) => a - b);

/** One N: the fleet grown to n bots, first-synced, then driven for the hold and measured. */
async function run(n: number): Promise<RunResult> {
  const added = addBots(n);
  const fleet = specs.slice(0, n);
  const app = await startCtpEtl(env.config, profileEnv);
  const workers =
    EXTRA_WORKERS > 0
      ? await startWorkers(env.config, 'bot-sync,turso-push', {
          processes: EXTRA_WORKERS,
          concurrency: env.config.WORKER_CONCURRENCY,
          env: profileEnv,
        })
      : [];
  const workerPids = [app.child.pid!, ...workers.map((w) => w.pid!)];
  try {
    const warmStart = Date.now();
    for (let i = 0; i < added.length; i += 500) {
      const chunk = added.slice(i, i + 500);
      await queues.sync.addBulk(chunk.map((s) => ({ name: `bot-sync ${s.bot}`, data: { bot: s.bot } })));
      await queues.push.addBulk(
        chunk.filter((s) => s.push).map((s) => ({ name: `turso-push ${s.bot}`, data: { bot: s.bot } })),
      );
    }
    await settleQueues(Object.values(queues), `first syncs of ${added.length} bots`, 120 * 60_000);
    process.stderr.write(
      `live-fleet ${n}: ${added.length} new bots first-synced in ${((Date.now() - warmStart) / 1000).toFixed(0)} s\n`,
    );
    return await hold(fleet, app, workerPids);
  } finally {
    await stopWorkers(workers);
    await app.stop();
  }
}

async function hold(fleet: BotSpec[], app: StartedApp, workerPids: number[]): Promise<RunResult> {
  const pushed = new Set(fleet.filter((s) => s.push).map((s) => s.bot));
  const commits: Commit[] = [];
  const pendingPg = new Set<Commit>();
  const pendingTurso = new Map<string, Commit[]>();
  /** Per bot and trade, the states its commits left, oldest first (pruned below the oldest pending commit). */
  const states = new Map<string, Map<number, Array<{ seq: number; state: RowState }>>>();
  const stateSeq = (bot: string, trade: number, state: RowState): number => {
    const list = states.get(bot)?.get(trade) ?? [];
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.state === state) return list[i]!.seq;
    return -1;
  };

  // Job events: syncs and pushes done, and each push's start and end (a push reads its snapshot after it starts).
  const eventConnections = [createRedis(env.config, 'worker'), createRedis(env.config, 'worker')] as const;
  const events = {
    sync: new QueueEvents('bot-sync', { connection: eventConnections[0], prefix: env.config.QUEUE_PREFIX }),
    push: new QueueEvents('turso-push', { connection: eventConnections[1], prefix: env.config.QUEUE_PREFIX }),
  };
  await Promise.all(Object.values(events).map((e) => e.waitUntilReady()));
  let measuring = false;
  let syncs = 0;
  let pushes = 0;
  let failedJobs = 0;
  const syncKinds: Record<string, number> = {};
  const at = (eventId: string): number => Number(eventId.split('-')[0]);
  events.sync.on('completed', ({ returnvalue }) => {
    if (!measuring) return;
    syncs += 1;
    const result = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as {
      skipped?: string;
      fullCompare?: string;
    };
    const kind =
      result.skipped !== undefined ? 'skipped' : result.fullCompare !== undefined ? 'full compare' : 'windows';
    syncKinds[kind] = (syncKinds[kind] ?? 0) + 1;
  });
  const onFailed = ({ failedReason }: { failedReason: string }): void => {
    failedJobs += 1;
    if (failedJobs <= 5) process.stderr.write(`job failed: ${failedReason}\n`);
  };
  events.sync.on('failed', onFailed);
  events.push.on('failed', onFailed);
  const pushStarted = new Map<string, number>();
  events.push.on('active', ({ jobId }, id) => pushStarted.set(jobId, at(id)));
  events.push.on('completed', ({ jobId }, id) => {
    const finished = at(id);
    const started = pushStarted.get(jobId);
    pushStarted.delete(jobId);
    if (measuring) pushes += 1;
    if (started === undefined) return;
    void queues.push.getJob(jobId).then((job) => {
      const bot = (job?.data as { bot?: string } | undefined)?.bot;
      const waiting = bot === undefined ? undefined : pendingTurso.get(bot);
      if (!waiting) return;
      const left = waiting.filter((c) => {
        if (c.at >= started) return true;
        c.tursoMs = finished - c.at;
        return false;
      });
      pendingTurso.set(bot!, left);
    });
  });

  // The drivers: bots dealt round-robin among DRIVERS processes.
  const holdSeconds = HOLD_MS / 1000;
  const drivers: ChildProcess[] = [];
  const driversDone: Array<Promise<void>> = [];
  const onCommit = (line: string): void => {
    const c = JSON.parse(line) as LoopCommit;
    const trades = new Map<number, Array<{ seq: number; state: RowState }>>();
    const byTrade = states.get(c.bot) ?? states.set(c.bot, trades).get(c.bot)!;
    for (const [trade, state] of c.rows) {
      const list = byTrade.get(trade) ?? byTrade.set(trade, []).get(trade)!;
      list.push({ seq: c.seq, state });
    }
    const commit: Commit = {
      bot: c.bot,
      seq: c.seq,
      at: c.at,
      kind: c.kind,
      trades: c.rows.map(([t]) => t),
      push: pushed.has(c.bot),
    };
    commits.push(commit);
    pendingPg.add(commit);
    if (commit.push) (pendingTurso.get(c.bot) ?? pendingTurso.set(c.bot, []).get(c.bot)!).push(commit);
  };
  const loadBefore = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const cpu0 = {
    workers: workerPids.reduce((s, pid) => s + cpuMsOf(pid), 0),
    redis: cpuMsOf(redisPid() ?? -1),
    bench: process.cpuUsage(),
  };
  /** Each backend's CPU when first seen (0 for one that connected during the hold) and when last seen. */
  const backends = new Map<number, { first: number; last: number }>();
  const sampleBackends = async (first: boolean): Promise<void> => {
    for (const pid of await pgBackendsOf(workerPids, env.runtime.pg)) {
      const now = cpuMsOf(pid);
      const known = backends.get(pid);
      if (known) known.last = Math.max(known.last, now);
      else backends.set(pid, { first: first ? now : 0, last: now });
    }
  };
  await sampleBackends(true);

  measuring = true;
  const started = Date.now();
  for (let d = 0; d < DRIVERS; d++) {
    const planFile = path.join(env.dir, `loop-${d}.json`);
    const plan: LoopPlan = {
      ...LOOP,
      seconds: holdSeconds,
      bots: fleet
        .filter((_, i) => i % DRIVERS === d)
        .map((s) => ({ bot: s.bot, file: botDbPath(root, s.bot), futures: s.futures, seed: s.seed })),
    };
    writeFileSync(planFile, JSON.stringify(plan));
    const driver = spawn(process.execPath, ['--import', 'tsx', LOOP_SCRIPT, planFile], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: driver.stdout! }).on('line', onCommit);
    drivers.push(driver);
    driversDone.push(new Promise((resolve) => driver.once('exit', () => resolve())));
  }
  const driverCpu = new Map<number, number>();
  const sampleDrivers = (): void => {
    for (const d of drivers)
      if (d.pid !== undefined) driverCpu.set(d.pid, Math.max(driverCpu.get(d.pid) ?? 0, cpuMsOf(d.pid)));
  };

  // Commit -> PostgreSQL: which pending commits' rows PostgreSQL holds now (that commit's states or later ones).
  const pollPg = async (): Promise<void> => {
    if (pendingPg.size === 0) return;
    const asked = [...pendingPg];
    const pairs = new Map<string, [string, number]>();
    for (const c of asked) for (const t of c.trades) pairs.set(`${c.bot}/${t}`, [c.bot, t]);
    const polledAt = Date.now();
    const { rows } = await env.runtime.pg.query<{
      instance_id: string;
      trade_id: number;
      is_open: boolean;
      max_rate: string | null;
      min_rate: string | null;
      stop_loss: string | null;
      funding_fees: string | null;
    }>(
      `SELECT b.instance_id, t.trade_id, t.is_open, t.max_rate, t.min_rate, t.stop_loss, t.funding_fees
       FROM unnest($1::text[], $2::int[]) AS p(bot, trade)
       JOIN bots b ON b.instance_id = p.bot JOIN trades_aggregated t ON t.bot_id = b.id AND t.trade_id = p.trade`,
      [[...pairs.values()].map(([b]) => b), [...pairs.values()].map(([, t]) => t)],
    );
    const held = new Map(
      rows.map((r) => [`${r.instance_id}/${r.trade_id}`, stateSeq(r.instance_id, r.trade_id, rowState(r))]),
    );
    for (const c of asked)
      if (c.trades.every((t) => (held.get(`${c.bot}/${t}`) ?? -1) >= c.seq)) {
        c.pgMs = Math.max(0, polledAt - c.at);
        pendingPg.delete(c);
      }
  };
  const prune = (): void => {
    const oldest = new Map<string, number>();
    for (const c of pendingPg) oldest.set(c.bot, Math.min(oldest.get(c.bot) ?? Infinity, c.seq));
    for (const [bot, list] of pendingTurso)
      for (const c of list) oldest.set(bot, Math.min(oldest.get(bot) ?? Infinity, c.seq));
    for (const [bot, byTrade] of states) {
      const keep = oldest.get(bot) ?? Infinity;
      for (const [trade, list] of byTrade) {
        const from = list.findIndex((s) => s.seq >= keep);
        if (from === -1) byTrade.delete(trade);
        else if (from > 0) list.splice(0, from);
      }
    }
  };

  // Early stop: a p95, over the last minute's commits old enough to judge, above twice the bound at every check for a minute.
  const failingSince = new Map<string, number>();
  let stoppedEarly: string | undefined;
  const recentP95 = (
    now: number,
    bound: number,
    of: (c: Commit) => number | undefined,
    only: (c: Commit) => boolean,
  ): number => {
    const window = commits.filter((c) => only(c) && c.at >= now - 60_000 - 2 * bound && c.at <= now - 2 * bound);
    return percentile(sortedOf(window.map((c) => of(c) ?? now - c.at)), 0.95);
  };
  const checkEarlyStop = (now: number): void => {
    for (const [name, bound, of, only] of [
      ['PostgreSQL', PG_BOUND_MS, (c: Commit) => c.pgMs, () => true],
      ['Turso', TURSO_BOUND_MS, (c: Commit) => c.tursoMs, (c: Commit) => c.push],
    ] as const) {
      const p95 = recentP95(now, bound, of, only);
      if (!(p95 > 2 * bound)) failingSince.delete(name);
      else if ((failingSince.get(name) ?? failingSince.set(name, now).get(name)!) <= now - 60_000)
        stoppedEarly ??= `${name} p95 over ${2 * bound} ms for a minute (${Math.round(p95)} ms), stopped after ${Math.round((now - started) / 1000)} s`;
    }
  };

  let lastSample = Date.now();
  let driversEnded = false;
  void Promise.all(driversDone).then(() => (driversEnded = true));
  while (!driversEnded) {
    await pollPg();
    if (Date.now() - lastSample >= 5_000) {
      lastSample = Date.now();
      await sampleBackends(false);
      sampleDrivers();
      prune();
      checkEarlyStop(lastSample);
      if (stoppedEarly !== undefined) for (const d of drivers) d.kill('SIGTERM');
      if (app.child.exitCode !== null)
        throw new Error(`ctp-etl start exited during the hold:\n${app.log().slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const holdMs = Date.now() - started;
  await sampleBackends(false);
  const cpu = {
    workers: workerPids.reduce((s, pid) => s + cpuMsOf(pid), 0) - cpu0.workers,
    pg: [...backends.values()].reduce((s, b) => s + b.last - b.first, 0),
    redis: cpuMsOf(redisPid() ?? -1) - cpu0.redis,
    drivers: [...driverCpu.values()].reduce((s, x) => s + x, 0),
    bench: (() => {
      const u = process.cpuUsage(cpu0.bench);
      return (u.user + u.system) / 1000;
    })(),
  };
  const syncsInHold = syncs;
  const pushesInHold = pushes;
  measuring = false;
  const load = `${loadBefore} -> ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;

  // Drain: commits not yet seen get a minute more (an early-stopped N is known to fail: not waited for).
  const drainUntil = Date.now() + (stoppedEarly === undefined ? DRAIN_MS : 0);
  const turso = (): number => [...pendingTurso.values()].reduce((s, l) => s + l.length, 0);
  while ((pendingPg.size > 0 || turso() > 0) && Date.now() < drainUntil) {
    await pollPg();
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const endedAt = Date.now();
  // Not seen by the end: counted at the time waited, a lower bound.
  for (const c of pendingPg) c.pgMs = endedAt - c.at;
  const unseenPg = pendingPg.size;
  const unseenTurso = turso();
  for (const list of pendingTurso.values()) for (const c of list) c.tursoMs = endedAt - c.at;

  // The Turso copies against their bots once the queues are idle: every trade's tracked columns.
  let copyMismatches = 0;
  if (stoppedEarly === undefined) {
    await settleQueues(Object.values(queues), 'last pushes', 10 * 60_000);
    for (const bot of pushed) {
      const read = (file: string): Map<number, RowState> => {
        const db = new Database(file, { readonly: true });
        try {
          const rows = db
            .prepare<
              [],
              {
                id: number;
                is_open: number;
                max_rate: number;
                min_rate: number;
                stop_loss: number;
                funding_fees: number;
              }
            >('SELECT id, is_open, max_rate, min_rate, stop_loss, funding_fees FROM trades')
            .all();
          return new Map(rows.map((r) => [r.id, rowState(r)]));
        } finally {
          db.close();
        }
      };
      const source = read(botDbPath(root, bot));
      const copy = read(path.join(env.config.TURSO_FILE_DIR, `${bot}.db`));
      for (const [id, state] of source) if (copy.get(id) !== state) copyMismatches += 1;
    }
  }
  await Promise.all(Object.values(events).map((e) => e.close()));
  for (const connection of eventConnections) connection.disconnect();
  return {
    bots: fleet.length,
    holdMs,
    stoppedEarly,
    load,
    commits,
    unseenPg,
    unseenTurso,
    syncs: syncsInHold,
    pushes: pushesInHold,
    failedJobs,
    syncKinds,
    cpu,
    copyMismatches,
    pushedBots: pushed.size,
  };
}

interface Verdict {
  pg: number[];
  turso: number[];
  growth: { pg: [number, number]; turso: [number, number] };
  growing: boolean;
  held: boolean;
  why: string[];
}

function judge(r: RunResult): Verdict {
  const pg = sortedOf(r.commits.map((c) => c.pgMs!));
  const turso = sortedOf(r.commits.filter((c) => c.push).map((c) => c.tursoMs!));
  const start = Math.min(...r.commits.map((c) => c.at));
  const third = r.holdMs / 3;
  // Lag grows when a backlog builds: the median of the last third of the hold's commits against the first third's.
  const thirds = (of: (c: Commit) => number | undefined, only: (c: Commit) => boolean): [number, number] => {
    const medianFrom = (from: number, to: number): number =>
      percentile(sortedOf(r.commits.filter((c) => only(c) && c.at >= from && c.at < to).map((c) => of(c)!)), 0.5);
    return [medianFrom(start, start + third), medianFrom(start + 2 * third, Infinity)];
  };
  const growth = {
    pg: thirds(
      (c) => c.pgMs,
      () => true,
    ),
    turso: thirds(
      (c) => c.tursoMs,
      (c) => c.push,
    ),
  };
  // Half as large again, and at least a second more: a backlog, not the noise of a shared machine.
  const grows = ([first, last]: [number, number]): boolean => last > 1.5 * first && last > first + 1_000;
  const growing = grows(growth.pg) || (turso.length > 0 && grows(growth.turso));
  const why: string[] = [];
  if (r.stoppedEarly) why.push(r.stoppedEarly);
  if (!(percentile(pg, 0.95) < PG_BOUND_MS)) why.push('PostgreSQL p95 >= 2 s');
  if (turso.length > 0 && !(percentile(turso, 0.95) < TURSO_BOUND_MS)) why.push('Turso p95 >= 10 s');
  if (growing) why.push('lag grows');
  if (r.unseenPg + r.unseenTurso > 0)
    why.push(`${r.unseenPg} + ${r.unseenTurso} commits never seen in PostgreSQL + Turso`);
  if (r.failedJobs > 0) why.push(`${r.failedJobs} jobs failed`);
  if (r.copyMismatches > 0) why.push(`${r.copyMismatches} trades differ in the Turso copies`);
  return { pg, turso, growth, growing, held: why.length === 0, why };
}

const ms = (x: number): string =>
  Number.isNaN(x) ? 'n/a' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
const trio = (sorted: number[]): string =>
  sorted.length === 0
    ? 'n/a'
    : `${ms(percentile(sorted, 0.5))} / ${ms(percentile(sorted, 0.95))} / ${ms(percentile(sorted, 0.99))}`;

function report(r: RunResult, v: Verdict): string {
  const seconds = r.holdMs / 1000;
  const perBot = new Map<string, number[]>();
  for (const c of r.commits) (perBot.get(c.bot) ?? perBot.set(c.bot, []).get(c.bot)!).push(c.pgMs!);
  const botP95 = [...perBot.entries()]
    .map(([bot, xs]) => [bot, percentile(sortedOf(xs), 0.95)] as const)
    .sort((a, b) => a[1] - b[1]);
  const worst = botP95.at(-1);
  const kinds = r.commits.reduce<Record<string, number>>((n, c) => ({ ...n, [c.kind]: (n[c.kind] ?? 0) + 1 }), {});
  const rate = (x: number): string => (x / seconds).toFixed(1);
  return [
    `### ${r.bots} bots: ${v.held ? 'HELD' : `NOT HELD (${v.why.join('; ')})`}`,
    `hold ${seconds.toFixed(0)} s; load average (1, 5, 15 min) ${r.load}; ${r.pushedBots} bots pushing to Turso`,
    '| measure | value |',
    '| --- | --- |',
    `| commits | ${r.commits.length} = ${rate(r.commits.length)}/s (${Object.entries(kinds)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')}) |`,
    `| commit -> PostgreSQL p50 / p95 / p99 | ${trio(v.pg)} (max ${ms(v.pg.at(-1) ?? NaN)}${r.unseenPg > 0 ? `; ${r.unseenPg} never seen` : ''}) |`,
    `| commit -> Turso p50 / p95 / p99 | ${trio(v.turso)} (max ${ms(v.turso.at(-1) ?? NaN)}${r.unseenTurso > 0 ? `; ${r.unseenTurso} never seen` : ''}) |`,
    `| per-bot p95 to PostgreSQL: median bot / p95 bot / worst bot | ${ms(
      percentile(
        botP95.map((b) => b[1]),
        0.5,
      ),
    )} / ${ms(
      percentile(
        botP95.map((b) => b[1]),
        0.95,
      ),
    )} / ${ms(worst?.[1] ?? NaN)} (${worst?.[0] ?? 'n/a'}) |`,
    `| median lag, first third -> last third of the hold | PostgreSQL ${ms(v.growth.pg[0])} -> ${ms(v.growth.pg[1])}; Turso ${ms(v.growth.turso[0])} -> ${ms(v.growth.turso[1])}${v.growing ? ' (grows)' : ''} |`,
    `| syncs / pushes a second | ${rate(r.syncs)} / ${rate(r.pushes)} (syncs: ${Object.entries(r.syncKinds)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')}; ${r.failedJobs} jobs failed) |`,
    `| CPU ms a second: workers / their PostgreSQL backends / redis-server | ${rate(r.cpu.workers)} / ${rate(r.cpu.pg)} / ${rate(r.cpu.redis)} |`,
    `| CPU per job (syncs and pushes): workers + PostgreSQL | ${(r.cpu.workers / Math.max(1, r.syncs + r.pushes)).toFixed(1)} + ${(r.cpu.pg / Math.max(1, r.syncs + r.pushes)).toFixed(1)} ms |`,
    `| CPU ms a second per live bot: workers / PostgreSQL (so live bots a core) | ${(r.cpu.workers / seconds / r.bots).toFixed(2)} / ${(r.cpu.pg / seconds / r.bots).toFixed(2)} (${Math.round((1000 * seconds * r.bots) / Math.max(1, r.cpu.workers))} / ${Math.round((1000 * seconds * r.bots) / Math.max(1, r.cpu.pg))}) |`,
    `| CPU ms a second of the drivers (FreqTrade stand-ins) / this benchmark's polling | ${rate(r.cpu.drivers)} / ${rate(r.cpu.bench)} |`,
    `| Turso copies against their bots at the end | ${r.stoppedEarly ? 'not checked (stopped early)' : `${r.copyMismatches} trades differ`} |`,
    '',
  ].join('\n');
}

try {
  process.stdout.write(
    [
      `live-fleet: N of ${SIZES.join(', ')} bots (300 to 10,000 trades, ${FUTURES_SHARE * 100}% futures, ${PUSH_SHARE * 100}% pushing to Turso file: targets), ` +
        `held ${HOLD_MS / 1000} s each, under \`ctp-etl start\`${EXTRA_WORKERS > 0 ? ` + ${EXTRA_WORKERS} \`ctp-etl worker\`` : ''} (${
          Object.keys(SETTINGS).length === 0
            ? 'shipped defaults'
            : `shipped defaults but ${Object.entries(SETTINGS)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ')}`
        }); ` +
        `each bot a FreqTrade loop: every ${LOOP.tickMs / 1000} s its open trades' rates (${LOOP.moveShare * 100}% of ticks move), a trade opened and one closed every ${LOOP.tradeEveryMs / 60_000} min, funding every 30 min on futures; ${DRIVERS} driver process(es); PostgreSQL polled every ${POLL_MS} ms`,
      machine(),
      '',
    ].join('\n'),
  );
  const summary: string[] = [];
  let largestHeld: number | undefined;
  for (const n of SIZES) {
    const result = await run(n);
    const verdict = judge(result);
    process.stdout.write(`${report(result, verdict)}\n`);
    summary.push(
      `| ${n} | ${(result.commits.length / (result.holdMs / 1000)).toFixed(0)} | ${trio(verdict.pg)} | ${trio(verdict.turso)} | ${(result.syncs / (result.holdMs / 1000)).toFixed(1)} / ${(result.pushes / (result.holdMs / 1000)).toFixed(1)} | ${(result.cpu.workers / (result.holdMs / 1000)).toFixed(0)} / ${(result.cpu.pg / (result.holdMs / 1000)).toFixed(0)} / ${(result.cpu.redis / (result.holdMs / 1000)).toFixed(0)} | ${(result.holdMs / 1000).toFixed(0)} s | ${result.load} | ${verdict.held ? 'held' : verdict.why.join('; ')} |`,
    );
    if (verdict.held) largestHeld = n;
    else if (!RUN_ALL) break;
  }
  process.stdout.write(
    [
      `| bots | commits/s | commit -> PostgreSQL p50 / p95 / p99 | commit -> Turso p50 / p95 / p99 | syncs / pushes a second | CPU ms/s workers / PostgreSQL / Redis | hold | load | verdict |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...summary,
      '',
      `largest N held (PostgreSQL p95 < 2 s, Turso p95 < 10 s, lag not growing): ${largestHeld ?? 'none'}`,
      '',
    ].join('\n'),
  );
} finally {
  await Promise.all(Object.values(queues).map((q) => q.close()));
  // The run's queues (the schedules' too) go with its schema: nothing of it is left in Redis.
  if ('scanStream' in redis)
    for await (const keys of redis.scanStream({ match: `${env.config.QUEUE_PREFIX}:*`, count: 1000 }))
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
  redis.disconnect();
  await env.close();
}
