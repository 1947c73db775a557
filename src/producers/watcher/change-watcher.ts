import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Config } from '../../config.js';
import type { PgPool } from '../../connections/postgres.js';
import { heldJobsOf } from '../../bots/held-bots.js';
import { instanceNameSchema } from '../../bots/bot-instances.js';
import { errorMessage } from '../../errors.js';
import { tursoPushEnabled } from '../../bots/sync-config.js';
import type { Logger } from '../../logger.js';
import { oncePerBot } from '../../queues/deduplication.js';
import { queueNameFor } from '../../queues/host-routing.js';
import type { Queues } from '../../queues/queues.js';
import { enqueue } from '../enqueue.js';
import { checkInotifyWatchLimit, readInotifyWatchLimit } from './inotify-limit.js';
import { SyncDebouncer } from './sync-debouncer.js';

/** A problem with BOT_INSTANCES_DIR itself: the watcher cannot start. */
export class WatchFolderError extends Error {
  override readonly name = 'WatchFolderError';
}

export interface ChangeWatcherOptions {
  config: Config;
  queues: Queues;
  /** Where held bots are recorded: a held bot's writes enqueue nothing. */
  pg: PgPool;
  logger: Logger;
  /** Where errors while watching go (a folder that cannot be watched, a failed enqueue): counted and logged. */
  onError: (error: unknown) => void;
}

export interface WatcherCounts {
  /** Writes seen to a bot's database or WAL. */
  writes: number;
  /** bot-sync and turso-push jobs asked for (BullMQ keeps one waiting per bot however many). */
  syncs: number;
  pushes: number;
  /** Jobs not asked for because the bot is held (a refused reset, a bad file, another host's bot). */
  held: number;
}

const isInstanceName = (name: string): boolean => instanceNameSchema.safeParse(name).success;

/**
 * The change watcher: watches each bot's database and WAL (file events, or stat polling where
 * events do not work), and once a bot's writes settle (SyncDebouncer) enqueues its bot-sync, and
 * its turso-push when its sync-config.json enables pushes. Jobs are deduplicated per bot: one
 * waiting job however many writes; a write during a running job queues exactly one more.
 * New bot folders are watched as they appear. The scheduler's schedules stay as the safety net.
 */
export class ChangeWatcher {
  readonly counts: WatcherCounts = { writes: 0, syncs: 0, pushes: 0, held: 0 };
  private readonly root: string;
  private readonly databaseNames: Set<string>;
  private readonly debouncer: SyncDebouncer;
  private watcher: FSWatcher | undefined;
  private readonly enqueues = new Set<Promise<void>>();
  private readonly configProblems = new Map<string, string>();
  /** Size and modification time (ns) of each database and WAL when last seen. */
  private readonly stamps = new Map<string, string>();
  /** Files whose stat runs now -> whether an event came since it started (one more stat then). */
  private readonly statting = new Map<string, boolean>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: ChangeWatcherOptions) {
    const { config } = options;
    this.root = path.resolve(config.BOT_INSTANCES_DIR);
    this.databaseNames = new Set(config.BOT_DB_FILENAMES.flatMap((name) => [name, `${name}-wal`]));
    this.debouncer = new SyncDebouncer(config.WATCH_DEBOUNCE, (bot) => this.track(this.enqueueFor(bot)));
  }

  /** Checks the folder (and the inotify limit), starts watching, and resolves once every bot is watched. */
  async start(): Promise<{ bots: number; unreadable: string[] }> {
    const { config, logger } = this.options;
    const { bots, unreadable } = await this.checkFolders();
    await this.recordStamps(bots);
    if (config.WATCH_MODE === 'events') {
      checkInotifyWatchLimit(bots.length, await readInotifyWatchLimit(), (message) => logger.warn(message));
    }
    const watcher = watch(this.root, {
      ignoreInitial: true,
      depth: 2,
      backend: config.WATCH_MODE === 'poll' ? 'polling' : 'native',
      pollingInterval: config.WATCH_POLL_INTERVAL,
      pollingBinaryInterval: config.WATCH_POLL_INTERVAL,
      ignored: (file: string, stats?: Stats) => !this.watched(file, stats),
    });
    this.watcher = watcher;
    // Raw events are every write the platform reports, never throttled: the last write of a burst counts too.
    watcher.on('raw', (_event, file, details) => this.onRaw(file, details));
    watcher.on('add', (file) => this.onWrite(file)); // a new database (a new bot, or a file put in place)
    watcher.on('error', (error) => this.options.onError(error));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    return { bots: bots.length, unreadable };
  }

  /** No write waiting for its debounce and no enqueue in flight. */
  get idle(): boolean {
    return this.debouncer.waiting === 0 && this.enqueues.size === 0;
  }

  /** Stops watching; writes already seen get their jobs first, so nothing seen is left unsynced. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.watcher?.close();
      this.debouncer.flush();
      await Promise.all([...this.enqueues]);
    })();
    return this.stopping;
  }

  /**
   * BOT_INSTANCES_DIR must be a readable folder (else the watcher refuses to start, naming it); a
   * bot folder that cannot be read is reported, naming it, and the other bots are watched.
   */
  private async checkFolders(): Promise<{ bots: string[]; unreadable: string[] }> {
    const root = this.root;
    const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
      throw new WatchFolderError(
        error.code === 'ENOENT'
          ? `BOT_INSTANCES_DIR ${root} does not exist: create it or point BOT_INSTANCES_DIR at the folder of the bots`
          : `BOT_INSTANCES_DIR ${root} cannot be read (${error.code ?? errorMessage(error)})`,
        { cause: error },
      );
    });
    if (!info.isDirectory()) throw new WatchFolderError(`BOT_INSTANCES_DIR ${root} is not a folder`);
    const entries = await readdir(root, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      throw new WatchFolderError(
        `BOT_INSTANCES_DIR ${root} cannot be read (${error.code ?? errorMessage(error)}): give this process read and execute permission on it`,
        { cause: error },
      );
    });
    const bots = entries.filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isInstanceName(e.name));
    const unreadable: string[] = [];
    for (const bot of bots) {
      for (const folder of [path.join(root, bot.name), path.join(root, bot.name, 'user_data')]) {
        const problem = await readdir(folder).then(
          () => undefined,
          (error: NodeJS.ErrnoException) => error,
        );
        if (problem === undefined || problem.code === 'ENOENT' || problem.code === 'ENOTDIR') continue;
        const message = `bot ${bot.name}: ${folder} cannot be read (${problem.code ?? errorMessage(problem)}), so its changes are not watched: give this process read and execute permission on it`;
        this.options.logger.error(message, { bot: bot.name, folder });
        unreadable.push(folder);
        break;
      }
    }
    return { bots: bots.map((b) => b.name), unreadable };
  }

  /** Each database and WAL as it is now, so that only a later write is taken for one (not a first read). */
  private async recordStamps(bots: readonly string[]): Promise<void> {
    for (const bot of bots) {
      for (const name of this.databaseNames) {
        const file = path.join(this.root, bot, 'user_data', name);
        const info = await stat(file, { bigint: true }).catch(() => undefined);
        if (info !== undefined) this.stamps.set(file, `${info.size}:${info.mtimeNs}`);
      }
    }
  }

  /** What is watched: the root, bot folders, their user_data, and in it the database and its WAL. */
  private watched(file: string, stats?: Stats): boolean {
    const parts = this.partsOf(file);
    if (parts === undefined) return false;
    if (parts.length === 0) return true;
    if (!isInstanceName(parts[0]!)) return false;
    if (parts.length === 1) return stats === undefined || stats.isDirectory();
    if (parts[1] !== 'user_data') return false;
    if (parts.length === 2) return stats === undefined || stats.isDirectory();
    return parts.length === 3 && this.databaseNames.has(parts[2]!);
  }

  private partsOf(file: string): string[] | undefined {
    const relative = path.relative(this.root, path.resolve(this.root, file));
    if (relative === '') return [];
    if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
    return relative.split(path.sep);
  }

  private onRaw(file: string | null, details: unknown): void {
    // fs.watch names the entry relative to the watched path (or not at all: null); polling gives the full path.
    const record = typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : {};
    const watchedPath = typeof record.watchedPath === 'string' ? record.watchedPath : undefined;
    let full = file;
    if (watchedPath !== undefined) {
      full = !file || path.basename(watchedPath) === file ? watchedPath : path.join(watchedPath, file);
    }
    if (full === null || this.botOf(full) === undefined) return;
    // A commit raises several events on its WAL and database at once: while a file's stat runs,
    // later events ask for one more stat, taken once it ends (it sees them all), not one each.
    if (this.statting.has(full)) {
      this.statting.set(full, true);
      return;
    }
    this.statting.set(full, false);
    this.takeStamp(full);
  }

  /** The file's stamp now; a write when it differs from the last one seen. */
  private takeStamp(full: string): void {
    // Opening the database to read it (our own syncs, as root) changes the WAL's attributes, not
    // its contents: only a new size or modification time is a write, or every sync would start another.
    void stat(full, { bigint: true })
      .then(
        (info) => {
          const stamp = `${info.size}:${info.mtimeNs}`;
          if (this.stamps.get(full) === stamp) return;
          this.stamps.set(full, stamp);
          // A WAL created empty (a reader opened a checkpointed database) holds no write.
          if (info.size === 0n && full.endsWith('-wal')) return;
          this.onWrite(full);
        },
        () => this.stamps.delete(full), // gone: a checkpointed WAL, whose database's own event counts
      )
      .finally(() => {
        if (this.statting.get(full) === true) {
          this.statting.set(full, false);
          this.takeStamp(full);
        } else this.statting.delete(full);
      });
  }

  /** The bot whose database or WAL `file` is, or undefined for any other file. */
  private botOf(file: string): string | undefined {
    const parts = this.partsOf(file);
    if (parts?.length !== 3 || parts[1] !== 'user_data' || !this.databaseNames.has(parts[2]!)) return undefined;
    return isInstanceName(parts[0]!) ? parts[0] : undefined;
  }

  private onWrite(file: string): void {
    const bot = this.botOf(file);
    if (bot === undefined || this.stopping) return;
    this.counts.writes += 1;
    this.debouncer.touch(bot);
  }

  private track(work: Promise<void>): void {
    this.enqueues.add(work);
    void work.finally(() => this.enqueues.delete(work));
  }

  private async enqueueFor(bot: string): Promise<void> {
    const { config, queues, logger, pg } = this.options;
    const host = config.WORKER_HOST;
    const once = oncePerBot(bot);
    try {
      // A held bot keeps trading: its refusal is recorded once, not failed again on every write.
      // PostgreSQL not answering: enqueued as if not held (the job finds the refusal again).
      const held = await heldJobsOf(pg, config, bot).catch((error: unknown): ReadonlySet<string> => {
        this.options.onError(
          new Error(`watcher: held bots unreadable, bot ${bot} enqueued anyway: ${errorMessage(error)}`, {
            cause: error,
          }),
        );
        return new Set();
      });
      if (held.has('bot-sync')) this.counts.held += 1;
      else {
        await enqueue(queues, 'bot-sync', { bot }, once, queueNameFor('bot-sync', host));
        this.counts.syncs += 1;
      }
      if (held.has('turso-push')) this.counts.held += 1;
      else if (await this.pushEnabled(bot)) {
        await enqueue(queues, 'turso-push', { bot }, once, queueNameFor('turso-push', host));
        this.counts.pushes += 1;
      }
      logger.debug('watcher enqueued', { bot, held: [...held] });
    } catch (error) {
      this.options.onError(
        new Error(`watcher: enqueueing bot ${bot} failed: ${errorMessage(error)}`, { cause: error }),
      );
    }
  }

  /** As the scheduler decides: the bot's sync-config.json enables pushes. A bad file is reported once per problem. */
  private async pushEnabled(bot: string): Promise<boolean> {
    try {
      const enabled = await tursoPushEnabled(this.options.config, bot);
      this.configProblems.delete(bot);
      return enabled;
    } catch (error) {
      const message = errorMessage(error);
      if (this.configProblems.get(bot) !== message) {
        this.configProblems.set(bot, message);
        this.options.logger.warn('turso-push not enqueued: bad sync-config.json', { bot, error: message });
      }
      return false;
    }
  }
}
