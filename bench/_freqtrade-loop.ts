/**
 * The live-fleet benchmark's stand-in for running FreqTrades: one process drives many bots, each
 * as FreqTrade's process loop writes its database (WAL, one transaction a commit, dates = the
 * clock). Every TICK per bot, phase-spread across the bots: when its market moved, its open
 * trades' max_rate / min_rate (adjust_min_max_rates) and trailing stop_loss are updated and
 * committed together (Trade.commit() at the end of process()); at a realistic rate a trade opens
 * (the trade with its entry orders) or closes (exit orders, open orders cancelled); futures bots
 * book funding fees on their open trades twice an hour (FreqTrade's update_funding_fees runs at
 * minutes 1 and 31). Every commit strictly moves each row it touches (a new high or low, a closed
 * trade, a fee), so each row state names the commit that made it.
 *
 * Prints one JSON line per commit (LoopCommit) and stops after `seconds` or on SIGTERM.
 *
 *   node --import tsx bench/_freqtrade-loop.ts <plan.json>
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { addTrades, closeTrades } from '../scripts/freqtrade/generate-bot-db.js';
import { naiveUtcMicros, random } from '../scripts/freqtrade/trade-plan.js';

export interface LoopPlan {
  bots: Array<{ bot: string; file: string; futures: boolean; seed: number }>;
  tickMs: number;
  /** Mean time between a bot's trade opens, and between its closes. */
  tradeEveryMs: number;
  fundingEveryMs: number;
  /** Share of ticks in which a bot's market moves (1: a moving market). */
  moveShare: number;
  maxOpenTrades: number;
  seconds: number;
}

/** A committed trade row's observable state: `is_open|max_rate|min_rate|stop_loss|funding_fees`. */
export type RowState = string;

export interface LoopCommit {
  bot: string;
  /** The bot's commit number, from 1. */
  seq: number;
  /** Date.now() right after the commit. */
  at: number;
  kind: 'rates' | 'open' | 'close' | 'funding';
  /** Each trade the commit changed, with its state after it. */
  rows: Array<[trade: number, state: RowState]>;
}

export function rowState(row: {
  is_open: number | boolean;
  max_rate: number | string | null;
  min_rate: number | string | null;
  stop_loss: number | string | null;
  funding_fees: number | string | null;
}): RowState {
  const n = (value: number | string | null): string => (value === null ? '' : String(Number(value)));
  return `${row.is_open === true || row.is_open === 1 ? 1 : 0}|${n(row.max_rate)}|${n(row.min_rate)}|${n(row.stop_loss)}|${n(row.funding_fees)}`;
}

interface OpenTrade {
  id: number;
  short: boolean;
  openedUs: number;
  maxRate: number;
  minRate: number;
  stopLoss: number;
  priceStep: number;
  fundingFees: number;
  fundingRunning: number;
}

/** Trailing stop distance, as a share of the rate (a common `trailing_stop_positive`). */
const TRAIL = 0.05;
/** FreqTrade may not close a trade within its first minutes here: the generator dates exits up to a minute after their placing. */
const MIN_TRADE_AGE_US = 180e6;

const decimalsOf = (step: number): number => Math.max(0, Math.round(-Math.log10(step)));
const onStep = (x: number, step: number): number => Number((Math.round(x / step) * step).toFixed(decimalsOf(step)));
const round8 = (x: number): number => Number(x.toFixed(8));

/** One bot's process loop; `emit` gets each commit. */
export class BotLoop {
  private readonly db: Database.Database;
  private readonly rng: () => number;
  private seq = 0;
  private open: OpenTrade[] = [];
  nextTick: number;
  nextFunding: number;

  constructor(
    private readonly spec: LoopPlan['bots'][number],
    private readonly plan: Omit<LoopPlan, 'bots' | 'seconds'>,
    start: number,
    private readonly emit: (commit: LoopCommit) => void,
  ) {
    this.db = new Database(spec.file, { fileMustExist: true });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.rng = random(spec.seed * 7919 + 17);
    this.nextTick = start + this.rng() * plan.tickMs;
    this.nextFunding = start + this.rng() * plan.fundingEveryMs;
    this.loadOpen();
  }

  close(): void {
    this.db.close();
  }

  private loadOpen(): void {
    this.open = this.db
      .prepare<
        [],
        {
          id: number;
          is_short: number;
          open_date: string;
          max_rate: number;
          min_rate: number;
          stop_loss: number;
          price_precision: number | null;
          funding_fees: number | null;
          funding_fee_running: number | null;
        }
      >(
        `SELECT id, is_short, open_date, max_rate, min_rate, stop_loss, price_precision, funding_fees, funding_fee_running
         FROM trades WHERE is_open = 1 ORDER BY id`,
      )
      .all()
      .map((r) => ({
        id: r.id,
        short: r.is_short === 1,
        openedUs: naiveUtcMicros(r.open_date),
        maxRate: r.max_rate,
        minRate: r.min_rate,
        stopLoss: r.stop_loss,
        priceStep: r.price_precision ?? 1e-8,
        fundingFees: r.funding_fees ?? 0,
        fundingRunning: r.funding_fee_running ?? 0,
      }));
  }

  /** One pass of the process loop, when its tick is due. */
  tick(now: number): void {
    this.nextTick += this.plan.tickMs;
    const chance = this.plan.tickMs / this.plan.tradeEveryMs;
    if (this.open.length > 0 && this.rng() < this.plan.moveShare) this.moveRates();
    if (this.open.length < this.plan.maxOpenTrades && this.rng() < chance) this.openTrade();
    const closable = this.open.filter((t) => t.openedUs < now * 1000 - MIN_TRADE_AGE_US);
    if (closable.length > 0 && this.open.length > 1 && this.rng() < chance)
      this.closeTrade(closable[Math.floor(this.rng() * closable.length)]!);
    if (this.spec.futures && now >= this.nextFunding) {
      this.nextFunding += this.plan.fundingEveryMs;
      if (this.open.length > 0) this.bookFunding();
    }
  }

  /** adjust_min_max_rates and the trailing stop: every moved trade reaches a new high or low. */
  private moveRates(): void {
    const forced = Math.floor(this.rng() * this.open.length);
    const moved = this.open.filter((_, i) => i === forced || this.rng() < 0.5);
    const update = this.db.prepare('UPDATE trades SET max_rate = ?, min_rate = ?, stop_loss = ? WHERE id = ?');
    this.write('rates', moved, () => {
      for (const t of moved) {
        const step = 0.0005 + this.rng() * 0.002;
        if (this.rng() < 0.5) {
          t.maxRate = Math.max(
            onStep(t.maxRate * (1 + step), t.priceStep),
            onStep(t.maxRate + t.priceStep, t.priceStep),
          );
          if (!t.short) t.stopLoss = Math.max(t.stopLoss, onStep(t.maxRate * (1 - TRAIL), t.priceStep));
        } else {
          t.minRate = Math.min(
            onStep(t.minRate * (1 - step), t.priceStep),
            onStep(t.minRate - t.priceStep, t.priceStep),
          );
          if (t.short) t.stopLoss = Math.min(t.stopLoss, onStep(t.minRate * (1 + TRAIL), t.priceStep));
        }
        update.run(t.maxRate, t.minRate, t.stopLoss, t.id);
      }
    });
  }

  private openTrade(): void {
    const first = (this.db.prepare('SELECT coalesce(max(id), 0) + 1 AS n FROM trades').get() as { n: number }).n;
    const nowUs = Date.now() * 1000;
    this.write('open', [{ id: first }], () =>
      addTrades(this.db, {
        first,
        count: 1,
        seed: this.spec.seed,
        tradingMode: this.spec.futures ? 'futures' : 'spot',
        openShare: 1,
        customData: false,
        startUs: nowUs,
        spacingUs: 1000,
        notAfterUs: nowUs,
      }),
    );
    this.loadOpen();
  }

  private closeTrade(trade: OpenTrade): void {
    const nowUs = Date.now() * 1000;
    this.write('close', [trade], () =>
      closeTrades(this.db, [trade.id], {
        closedUs: nowUs,
        seed: this.spec.seed,
        tradingMode: this.spec.futures ? 'futures' : 'spot',
        notAfterUs: nowUs,
      }),
    );
    this.open = this.open.filter((t) => t.id !== trade.id);
  }

  /** FreqTrade's set_funding_fees: the fee since the last order, and the trade's total with it. */
  private bookFunding(): void {
    const update = this.db.prepare('UPDATE trades SET funding_fee_running = ?, funding_fees = ? WHERE id = ?');
    this.write('funding', this.open, () => {
      for (const t of this.open) {
        // Longs pay and shorts receive (a positive funding rate): each trade's total moves one way.
        const fee = Math.max(1e-8, round8(this.rng() * 0.05)) * (t.short ? 1 : -1);
        t.fundingRunning = round8(t.fundingRunning + fee);
        t.fundingFees = round8(t.fundingFees + fee);
        update.run(t.fundingRunning, t.fundingFees, t.id);
      }
    });
  }

  /** One write transaction, then its rows' states read back and the commit emitted. */
  private write(kind: LoopCommit['kind'], trades: ReadonlyArray<{ id: number }>, body: () => unknown): void {
    this.db.transaction(body)();
    const at = Date.now();
    this.seq += 1;
    const ids = trades.map((t) => t.id);
    const rows = this.db
      .prepare<
        [string],
        { id: number; is_open: number; max_rate: number; min_rate: number; stop_loss: number; funding_fees: number }
      >(
        'SELECT id, is_open, max_rate, min_rate, stop_loss, funding_fees FROM trades WHERE id IN (SELECT value FROM json_each(?))',
      )
      .all(JSON.stringify(ids));
    this.emit({
      bot: this.spec.bot,
      seq: this.seq,
      at,
      kind,
      rows: rows.map((r) => [r.id, rowState(r)]),
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoopPlan;
  const start = Date.now();
  const until = start + plan.seconds * 1000;
  const print = (commit: LoopCommit): void => {
    process.stdout.write(`${JSON.stringify(commit)}\n`);
  };
  const loops = plan.bots.map((spec) => new BotLoop(spec, plan, start, print));
  const stop = (): void => {
    clearInterval(timer);
    for (const loop of loops) loop.close();
    process.exit(0);
  };
  const timer = setInterval(() => {
    const now = Date.now();
    if (now >= until) return stop();
    for (const loop of loops) if (now >= loop.nextTick) loop.tick(now);
  }, 20);
  process.once('SIGTERM', stop);
}
