import type { Config } from '../config.js';
import { stableHash32 } from '../stable-hash.js';
import { laterOf, type WindowMemory } from './change-window.js';

/**
 * When bot-sync and turso-push scan a bot's rows' dates (change-window.ts scanWindow) rather than
 * find its windows through FreqTrade's indexes (indexWindow). The only writes an index window
 * misses are FreqTrade's undated writes to old closed rows that only a row's date tells (a fee
 * fetched after the close, an order reloaded from the exchange, custom data set on a closed
 * trade); a date scan every SYNC_DATE_SCAN_INTERVAL, from the last one, takes them. Each pipeline
 * keeps its own last scan with its own state (bot_sync_state, turso_push_targets).
 */

/** When a run last read the rows' dates (a date scan or every row), and the file's latest date then. */
export interface DatesScan {
  at: Date | null;
  highWater: Date | null;
}

/** What the last run left: its last date scan (null columns before its pipeline's first) and its window. */
export interface DatesScanMemory {
  datesScan: DatesScan;
  window: WindowMemory;
}

/** The last date scan: before the pipeline recorded one (migrations 021, 024), every run scanned the dates. */
function lastDatesScan(memory: DatesScanMemory): DatesScan {
  return memory.datesScan.at === null ? { at: memory.window.at, highWater: memory.window.highWater } : memory.datesScan;
}

/**
 * Where this run's scan of the rows' dates starts, or undefined when it scans none: a bot whose
 * trades and orders (as its copy holds them) number at most SYNC_DATE_SCAN_ROWS scans them on
 * every run (a few ms); a bigger one once every datesScanInterval, from the last scan (its
 * time, or the bot's latest date then if earlier, less SYNC_WINDOW_MARGIN), so that each scan
 * reads every write since the one before: the undated writes no index finds are taken within the
 * interval.
 */
export function datesScanSince(
  bot: string,
  memory: DatesScanMemory,
  /** The trades and orders the copy holds. */
  rows: number,
  now: Date,
  config: Pick<Config, 'SYNC_DATE_SCAN_ROWS' | 'SYNC_DATE_SCAN_INTERVAL' | 'SYNC_WINDOW_MARGIN'>,
  /** The run's own window start (the last run's time, less the margin). */
  since: Date,
): Date | undefined {
  const last = lastDatesScan(memory);
  const small = rows <= config.SYNC_DATE_SCAN_ROWS;
  if (last.at === null) return since;
  if (!small && now.getTime() - last.at.getTime() < datesScanInterval(bot, config.SYNC_DATE_SCAN_INTERVAL))
    return undefined;
  const from = Math.min(last.at.getTime(), last.highWater?.getTime() ?? last.at.getTime()) - config.SYNC_WINDOW_MARGIN;
  return new Date(Math.min(from, since.getTime()));
}

/**
 * The bot's own interval between date scans: SYNC_DATE_SCAN_INTERVAL less a stable share of up to
 * a quarter of it, from its name (so never later than the interval). Bots first synced together
 * (a fleet's first migration, a worker's restart) would otherwise scan together at every interval,
 * a burst that delays every bot's commits behind it; with intervals of their own they drift apart.
 */
export function datesScanInterval(bot: string, interval: number): number {
  const share = stableHash32(bot) / 2 ** 32;
  return interval - Math.floor((share * interval) / 4);
}

/**
 * The bot's latest date as windows through indexes see it: only their rows' dates were read, the
 * rows outside them are the last run's, and so is their latest date.
 */
export function indexedHighWater(memory: DatesScanMemory, windows: Date | null): Date | null {
  return laterOf(memory.window.highWater, windows);
}

/**
 * What the next run's date scan starts from: this run, when it read every row's dates (a date
 * scan or every row: `highWater` is the file's latest date then); else the last scan, kept (a run
 * by windows always has a last run: `memory`).
 */
export function nextDatesScan(
  memory: DatesScanMemory | undefined,
  run: { datesRead: boolean; at: Date; highWater: Date | null },
): DatesScan {
  return run.datesRead ? { at: run.at, highWater: run.highWater } : lastDatesScan(memory!);
}
