import type { Config } from '../config.js';
import { formatDuration } from '../duration.js';
import type { SqliteDb } from './bot-database-file.js';
import { highWater, laterOf, sourceSchema, type WindowMemory } from './change-window.js';

/**
 * The plan of one run of bot-sync or turso-push over a bot's FreqTrade file, one of three:
 * - nothing to read: the file is the one the last run saw, and no full compare is due
 *   (`unchangedRun`, before the file is opened);
 * - the change windows since a date (bots/change-window.ts), when they can be trusted;
 * - every row, because of a reason the run reports (its result, its log).
 * Both pipelines take these steps in this order; what a window is read into, and how the rows
 * are then compared and written, is each pipeline's own (the `scan` it hands to `planRead`).
 */

/** What a run knows of the bot's file and of the last run before it reads a row. */
export interface RunFacts {
  /** What the last run left for this one's window; undefined when none ran. */
  memory: WindowMemory | undefined;
  /** This host's clock before the file is read: the next run's window starts here (less the margin). */
  now: Date;
  /** The file's fingerprint now; null or undefined when it cannot be trusted. */
  fingerprint: string | null | undefined;
  /** The fingerprint the last run recorded. */
  recordedFingerprint: string | null | undefined;
  /** The file's device and inode now; undefined when unknown. */
  identity: string | undefined;
  /** The file's device and inode at the last run. */
  recordedIdentity: string | null | undefined;
  /** `--full` / `--full-compare`. */
  asked: boolean;
  /** Why every row must be read, known to the run itself (a first sync, records not trusted, a dry run). */
  everyRowBecause?: string | undefined;
  config: Pick<Config, 'FULL_COMPARE_INTERVAL' | 'SYNC_WINDOW_MARGIN'>;
}

/** What a run's scan of its windows saw besides the rows it selects. */
export interface ScannedWindows {
  /** The latest date of the tables scanned (the bot's clock), null when none. */
  highWater: Date | null;
  /** The tables scanned: the others' latest dates are a scan of their own. */
  scanned: Iterable<string>;
}

/** The bot's file as the plan reads it, in the run's read transaction (one snapshot). */
export interface FileToPlan<S extends ScannedWindows> {
  db: SqliteDb;
  /** The tables whose latest date the next run's window starts from. */
  tables: readonly string[];
  /** Reads the windows since the date; a text says why the file cannot be read by windows. */
  scan: (since: Date) => Promise<S | string>;
  /** Runs one read of the file (bot-sync's names the bot in SQLite's errors); as it is when absent. */
  read?: <T>(step: () => T) => T;
}

/** What a run reads of a file that is not unchanged, and what it leaves for the next run's window. */
export type ReadPlan<S extends ScannedWindows> =
  | { read: 'windows'; since: Date; scan: S; next: WindowMemory }
  /** `scan`: the windows read before their latest date showed they cannot be trusted, if any. */
  | { read: 'every row'; because: string; scan: S | undefined; next: WindowMemory };

/** Whether the run reads nothing: the file's fingerprint is the last run's, and no full compare is due. */
export function unchangedRun(facts: RunFacts): boolean {
  return (
    facts.everyRowBecause === undefined &&
    !facts.asked &&
    facts.fingerprint !== null &&
    facts.fingerprint !== undefined &&
    facts.recordedFingerprint === facts.fingerprint &&
    !fullCompareDue(facts.memory, facts.now, facts.config.FULL_COMPARE_INTERVAL)
  );
}

/**
 * The windows since the last run (less SYNC_WINDOW_MARGIN) when they can be trusted, else every
 * row with the reason: first from what is known before any row is read, then from the latest
 * date the windows' scan saw. Run inside the file's read transaction, so the schema, the windows
 * and the latest date agree.
 */
export async function planRead<S extends ScannedWindows>(facts: RunFacts, file: FileToPlan<S>): Promise<ReadPlan<S>> {
  const { memory, now, config } = facts;
  const read = file.read ?? (<T>(step: () => T): T => step());
  const schema = read(() => sourceSchema(file.db));
  let because =
    facts.everyRowBecause ??
    fullCompareReason({
      memory,
      now,
      schema,
      replaced:
        facts.recordedIdentity !== null &&
        facts.recordedIdentity !== undefined &&
        facts.identity !== undefined &&
        facts.recordedIdentity !== facts.identity,
      asked: facts.asked,
      interval: config.FULL_COMPARE_INTERVAL,
    });
  const since = because === undefined ? windowStart(memory!, config.SYNC_WINDOW_MARGIN) : undefined;
  const scanned = since === undefined ? undefined : await file.scan(since);
  if (typeof scanned === 'string') because = `the file cannot be read by windows: ${scanned}`;
  const scan = typeof scanned === 'object' ? scanned : undefined;
  // The windows' scans saw their tables' latest dates; the other tables' are a scan of their own.
  const seen = new Set(scan?.scanned ?? []);
  const unscanned = file.tables.filter((table) => !seen.has(table));
  const water = laterOf(
    scan?.highWater ?? null,
    read(() => highWater(file.db, unscanned)),
  );
  because ??= untrustedHighWater(memory!, water, now, config.SYNC_WINDOW_MARGIN);
  const next = { at: now, highWater: water, fullAt: because === undefined ? memory!.fullAt : now, schema };
  return because === undefined
    ? { read: 'windows', since: since!, scan: scan!, next }
    : { read: 'every row', because, scan, next };
}

interface FullCompareInput {
  memory: WindowMemory | undefined;
  /** This host's clock now. */
  now: Date;
  schema: string;
  /** The file is another file (device and inode) than at the last run. */
  replaced: boolean;
  /** `--full` / `--full-compare`. */
  asked: boolean;
  interval: number;
}

/**
 * Why this run must compare every row, from what is known before any row is read; undefined
 * when the window can be trusted so far (the file's latest date is judged next, by
 * untrustedHighWater, from the same scan that reads the window).
 */
function fullCompareReason(input: FullCompareInput): string | undefined {
  const { memory, now, interval } = input;
  if (input.asked) return 'a full compare was asked for';
  if (interval === 0) return 'FULL_COMPARE_INTERVAL is 0';
  if (memory?.at == null || memory.fullAt === null || memory.schema === null) return 'no change window recorded yet';
  if (memory.schema !== input.schema)
    return 'the schema changed (a FreqTrade upgrade, or a table rebuilt by its migrations)';
  if (input.replaced) return 'the file is another file than at the last run';
  if (now < memory.at || now < memory.fullAt) return "this host's clock went back since the last run";
  if (now.getTime() - memory.fullAt.getTime() >= interval)
    return `FULL_COMPARE_INTERVAL (${formatDuration(interval)}) has passed since the last full compare`;
  return undefined;
}

/** Why the file's latest date (the bot's clock) makes the window untrustworthy; undefined when it does not. */
function untrustedHighWater(
  memory: WindowMemory,
  highWater: Date | null,
  now: Date,
  margin: number,
): string | undefined {
  if (highWater !== null && memory.highWater !== null && highWater < memory.highWater)
    return "the bot's latest date went back since the last run (its clock, or its newest rows deleted)";
  if (highWater !== null && highWater.getTime() > now.getTime() + margin)
    return "the bot's dates run ahead of this host's clock by more than SYNC_WINDOW_MARGIN";
  return undefined;
}

/**
 * Whether a full compare is due although the file looks unchanged: runs since the last full
 * compare read windows only, and FULL_COMPARE_INTERVAL has passed since it.
 */
function fullCompareDue(memory: WindowMemory | undefined, now: Date, interval: number): boolean {
  if (memory?.at == null) return false;
  const windowedSince = memory.fullAt === null || memory.at > memory.fullAt;
  return windowedSince && (memory.fullAt === null || now.getTime() - memory.fullAt.getTime() >= interval);
}

/** Where the window starts: the earlier of the last run's clock and the bot's, less the margin. */
function windowStart(memory: WindowMemory, margin: number): Date {
  const at = memory.at!.getTime();
  const bot = memory.highWater?.getTime() ?? at;
  return new Date(Math.min(at, bot) - margin);
}
