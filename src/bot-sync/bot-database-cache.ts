import { stat } from 'node:fs/promises';
import type { Config } from '../config.js';
import { describeBotDatabaseError } from '../bots/bot-database-file.js';
import { RACY_MS } from '../bots/file-version.js';
import { prepareCached } from '../bots/sqlite-cache.js';
import { BotDatabase } from './bot-database.js';

type CacheConfig = Pick<Config, 'SQLITE_BUSY_TIMEOUT' | 'SQLITE_HANDLE_CACHE' | 'SQLITE_HANDLE_IDLE'>;

/** An open bot database, and what the file at its path was when it was opened. */
interface Entry {
  source: BotDatabase;
  /** Device, inode, mode and owner of the file opened: another file at the path, or one this process may no longer read, differs. */
  fileKey: string;
  /** The file's size, modification and change times at the last checkout: what any write to it moves. */
  stamp: FileStamp;
  /** When it was put back (performance.now()), for the idle timeout. */
  idleSince: number;
  /** closeAll's count when checked out: a handle checked out before a closeAll is closed when put back. */
  generation: number;
  /** Whether it holds one of the cache's SQLITE_HANDLE_CACHE places (kept, idle or lent out again). */
  admitted: boolean;
}

interface FileStamp {
  text: string;
  /** Date.now() when read. */
  at: number;
  changedMs: number;
}

/** A checked-out handle: the run reads `source`, then gives the lease back to `release`. */
export interface BotDatabaseLease {
  readonly source: BotDatabase;
  /** Whether it was kept open since an earlier run (for tests and benchmarks). */
  readonly reused: boolean;
}

/**
 * The bot databases this process keeps open between runs of bot-sync and turso-push (issue 25: a
 * live bot syncs every few seconds, and a fresh open prepares every statement and reads the schema
 * again; a bot's syncs and pushes share its handle, planned for bot-sync's FreqTrade tables). A
 * handle is lent to one run at a time; put back, it waits for the bot's next run, the least
 * recently used closed past SQLITE_HANDLE_CACHE, any closed after SQLITE_HANDLE_IDLE. Checked
 * out, it is what a fresh open would be: reopened when the path holds another file (a reset's
 * copy, a bot deleted and created again) or the file's mode or owner changed, planned again when
 * the schema changed, its pages dropped when the file itself was written (BotDatabase.refresh).
 * Put back, its read transaction is ended (an open one would keep FreqTrade's checkpoints from
 * completing) and its page cache freed (SQLite drops it at the file's next change anyway: what
 * stays is the schema and statements, ~0.2 MB); after a failed run it is closed instead.
 *
 * A full cache admits no newcomer: the handles it holds are kept until idle. Evicting the least
 * recently used instead would keep nothing for a fleet larger than the cache whose bots sync in
 * turn (each evicted just before its next run); this way SQLITE_HANDLE_CACHE of them are kept.
 */
export class BotDatabaseCache {
  /** Idle handles by file, least recently used first (a Map keeps insertion order). */
  private readonly idle = new Map<string, Entry>();
  private readonly leased = new Map<BotDatabaseLease, Entry>();
  private generation = 0;
  /** Handles holding a place (admitted), idle or lent out. */
  private places = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private idleMs = 60_000;
  private capacity = 0;
  private busyTimeoutMs = 5_000;
  /** Counters for tests and benchmarks: files opened, handles reused. */
  readonly stats = { opens: 0, reuses: 0 };

  /** An open handle of the bot's file for one run: a kept one when it is still the file's, else a fresh one. */
  async checkout(bot: string, file: string, config: CacheConfig): Promise<BotDatabaseLease> {
    this.capacity = config.SQLITE_HANDLE_CACHE;
    this.idleMs = config.SQLITE_HANDLE_IDLE;
    this.busyTimeoutMs = config.SQLITE_BUSY_TIMEOUT;
    if (this.capacity === 0) {
      // Off: each run opens and closes the file, as without a cache (any kept before closed).
      if (this.idle.size > 0) this.closeAll();
      return this.lend(this.open(bot, file, '', { text: '', at: 0, changedMs: 0 }), false);
    }
    // Read before the open: a file put in its place after this is seen as another at the next checkout.
    const { fileKey, stamp } = await this.look(bot, file);
    const kept = this.idle.get(file);
    if (kept !== undefined) {
      this.idle.delete(file);
      let reusable = false;
      if (kept.fileKey === fileKey) {
        // SQLite's writes tell its readers what changed: a write to the file itself since the last
        // checkout, or one that could have landed unseen in the same timestamp tick, may not have.
        const pagesMayBeStale = stamp.text !== kept.stamp.text || kept.stamp.at - kept.stamp.changedMs < RACY_MS;
        kept.stamp = stamp;
        try {
          reusable = kept.source.refresh(pagesMayBeStale);
        } catch (error) {
          this.close(kept);
          throw error;
        }
      }
      if (reusable) {
        kept.generation = this.generation;
        return this.lend(kept, true);
      }
      this.close(kept);
    }
    return this.lend(this.open(bot, file, fileKey, stamp), false);
  }

  private open(bot: string, file: string, fileKey: string, stamp: FileStamp): Entry {
    const source = BotDatabase.open(bot, file, this.busyTimeoutMs);
    this.stats.opens += 1;
    return { source, fileKey, stamp, idleSince: 0, generation: this.generation, admitted: false };
  }

  /** Puts a handle back after its run: kept for the next one if the run succeeded and it has a place, else closed. */
  release(lease: BotDatabaseLease, succeeded: boolean): void {
    const entry = this.leased.get(lease);
    if (entry === undefined) return;
    this.leased.delete(lease);
    const { db } = entry.source;
    let keep =
      succeeded &&
      entry.generation === this.generation &&
      db.open &&
      // Another run of the same bot may have put one back meanwhile: one per file is kept.
      !this.idle.has(entry.source.file) &&
      (entry.admitted || this.places < this.capacity);
    if (keep) {
      try {
        if (db.inTransaction) db.exec('COMMIT'); // a read transaction: it only ends the snapshot
        prepareCached(db, 'PRAGMA shrink_memory', 'objects').run();
      } catch {
        keep = false;
      }
    }
    if (!keep) return this.close(entry);
    if (!entry.admitted) {
      entry.admitted = true;
      this.places += 1;
    }
    entry.idleSince = performance.now();
    this.idle.set(entry.source.file, entry);
    // SQLITE_HANDLE_CACHE lowered since: the least recently used give their places up.
    while (this.places > this.capacity && this.idle.size > 0) this.closeIdle(this.idle.keys().next().value!);
    this.sweep();
  }

  /** Closes every idle handle now; those lent out are closed when they are put back (shutdown). */
  closeAll(): void {
    this.generation += 1;
    for (const file of [...this.idle.keys()]) this.closeIdle(file);
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
  }

  /** How many handles are kept open, idle. */
  get size(): number {
    return this.idle.size;
  }

  private lend(entry: Entry, reused: boolean): BotDatabaseLease {
    if (reused) this.stats.reuses += 1;
    const lease = { source: entry.source, reused };
    this.leased.set(lease, entry);
    return lease;
  }

  private closeIdle(file: string): void {
    const entry = this.idle.get(file);
    this.idle.delete(file);
    if (entry !== undefined) this.close(entry);
  }

  private close(entry: Entry): void {
    if (entry.admitted) {
      entry.admitted = false;
      this.places -= 1;
    }
    entry.source.close();
  }

  /** Closes the handles idle past SQLITE_HANDLE_IDLE; runs again while any is left, without keeping the process alive. */
  private sweep(): void {
    // Timed again at each release: SQLITE_HANDLE_IDLE is the latest run's, and may have shortened.
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    const now = performance.now();
    for (const [file, entry] of this.idle) if (now - entry.idleSince >= this.idleMs) this.closeIdle(file);
    if (this.idle.size === 0) return;
    // The least recently put back is first: the next to pass the idle time.
    const next = this.idle.values().next().value!.idleSince + this.idleMs - now;
    this.sweeper = setTimeout(
      () => {
        this.sweeper = undefined;
        this.sweep();
      },
      Math.max(next, 1),
    );
    this.sweeper.unref();
  }

  /** Which file the path holds (another file put there has another key), and its stamp. */
  private async look(bot: string, file: string): Promise<{ fileKey: string; stamp: FileStamp }> {
    const at = Date.now();
    const info = await stat(file, { bigint: true }).catch((error: unknown) => {
      throw describeBotDatabaseError(bot, file, error);
    });
    return {
      fileKey: `${info.dev}:${info.ino}:${info.mode}:${info.uid}:${info.gid}`,
      stamp: {
        text: `${info.size}:${info.mtimeNs}:${info.ctimeNs}`,
        at,
        changedMs: Math.max(Number(info.mtimeMs), Number(info.ctimeMs)),
      },
    };
  }
}

/** This process's kept bot databases (a worker's, a `run`'s). */
export const botDatabases = new BotDatabaseCache();
