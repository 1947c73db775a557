/** However long writes go on, a bot's sync starts at most this long after the first write of a burst. */
const BURST_MAX_WAIT_MS = 2_000;

interface Pending {
  firstAt: number;
  timer: NodeJS.Timeout;
}

/**
 * Per-bot debounce: `fire(bot)` runs once the bot's writes have been quiet for `quietMs`, or
 * BURST_MAX_WAIT_MS (or `quietMs` when longer) after the first write of a burst, whichever comes
 * first. After a fire the next one is at least `quietMs` away, so a bot writing without pause
 * gets one sync per burst window instead of one per write.
 */
export class SyncDebouncer {
  private readonly pending = new Map<string, Pending>();
  private readonly maxWaitMs: number;

  constructor(
    private readonly quietMs: number,
    private readonly fire: (bot: string) => void,
  ) {
    this.maxWaitMs = Math.max(BURST_MAX_WAIT_MS, quietMs);
  }

  /** A write to `bot`'s database was seen. */
  touch(bot: string, now = Date.now()): void {
    const current = this.pending.get(bot);
    if (current) clearTimeout(current.timer);
    const firstAt = current?.firstAt ?? now;
    const delay = Math.max(0, Math.min(this.quietMs, firstAt + this.maxWaitMs - now));
    this.pending.set(bot, { firstAt, timer: setTimeout(() => this.fireNow(bot), delay) });
  }

  /** Bots with a sync still waiting for their writes to settle. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Fires every waiting bot now (at shutdown: a seen write is never left without its sync). */
  flush(): void {
    for (const bot of [...this.pending.keys()]) this.fireNow(bot);
  }

  private fireNow(bot: string): void {
    const current = this.pending.get(bot);
    if (!current) return;
    clearTimeout(current.timer);
    this.pending.delete(bot);
    this.fire(bot);
  }
}
