import { readFile } from 'node:fs/promises';

/** Where Linux keeps the per-user limit of inotify watches. */
const INOTIFY_WATCHES_FILE = '/proc/sys/fs/inotify/max_user_watches';

/** What one bot costs in file events: its folder, its user_data folder, its database and its WAL. */
const WATCHES_PER_BOT = 4;

/** Thrown when the platform's limit cannot hold the watches the bots need; says what to raise. */
export class InotifyLimitError extends Error {
  override readonly name = 'InotifyLimitError';
}

/** The limit, or undefined where there is none to read (not Linux). */
export async function readInotifyWatchLimit(file = INOTIFY_WATCHES_FILE): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const limit = text === undefined ? Number.NaN : Number(text.trim());
  return Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}

/** Watches `bots` bots need: theirs and the BOT_INSTANCES_DIR folder itself. */
export function watchesNeeded(bots: number): number {
  return 1 + bots * WATCHES_PER_BOT;
}

/**
 * Refuses a limit below what the bots need (their watches would fail one by one, ENOSPC, and
 * those bots would go unwatched); warns, through `warn`, when less than twice that is left for
 * new bots and for this user's other programs. The message says what to set.
 */
export function checkInotifyWatchLimit(bots: number, limit: number | undefined, warn: (message: string) => void): void {
  if (limit === undefined) return;
  const needed = watchesNeeded(bots);
  const suggested = Math.max(524_288, 2 ** Math.ceil(Math.log2(needed * 4)));
  const raise =
    `raise it: sysctl -w fs.inotify.max_user_watches=${suggested} (and keep it in /etc/sysctl.d/, e.g. ` +
    `"fs.inotify.max_user_watches = ${suggested}" in 60-ctp-etl.conf), or set WATCH_MODE=poll`;
  if (limit < needed) {
    throw new InotifyLimitError(
      `fs.inotify.max_user_watches is ${limit}, but watching ${bots} bots needs about ${needed} inotify watches ` +
        `(${WATCHES_PER_BOT} per bot): ${raise}`,
    );
  }
  if (limit < needed * 2) {
    warn(
      `fs.inotify.max_user_watches is ${limit}; ${bots} bots need about ${needed} inotify watches, leaving little for new bots and other programs: ${raise}`,
    );
  }
}
