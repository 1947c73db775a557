import { errorMessage } from '../errors.js';
import { within } from './deadlines.js';
import type { Logger } from '../logger.js';

/**
 * `work`: what takes or makes work (servers, schedulers, workers, queues); `connection`: what the
 * work runs on (PostgreSQL, Redis, MongoDB). Every `work` closer runs before any `connection` one,
 * whatever order they opened in: a pool opened lazily by the first job must outlive the workers.
 */
export type CloseStage = 'work' | 'connection';

type Closer = { name: string; stage: CloseStage; timeoutMs: number; close: () => Promise<unknown> | unknown };

/** How long one resource may take to close (unless it says otherwise) before shutdown goes on without it. */
const CLOSE_TIMEOUT_MS = 1_000;

/**
 * Resources register a closer when they open; `closeAll` runs the work closers in reverse order,
 * then the connection closers in reverse order, every one of them even when another fails, and
 * is safe to call twice. A resource that does not close in time (a query that still runs, a
 * Redis that is down) is left behind with a warning, so shutdown stays bounded.
 */
export class Closers {
  private readonly closers: Closer[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger?: Logger) {}

  add(name: string, close: Closer['close'], options: { stage?: CloseStage; timeoutMs?: number } = {}): void {
    this.closers.push({
      name,
      close,
      stage: options.stage ?? 'work',
      timeoutMs: options.timeoutMs ?? CLOSE_TIMEOUT_MS,
    });
  }

  closeAll(): Promise<void> {
    this.closing ??= this.runAll();
    return this.closing;
  }

  private async runAll(): Promise<void> {
    const failures: string[] = [];
    const inReverse = [...this.closers].reverse();
    const ordered = [
      ...inReverse.filter((closer) => closer.stage === 'work'),
      ...inReverse.filter((closer) => closer.stage === 'connection'),
    ];
    for (const closer of ordered) {
      try {
        await this.bounded(closer);
      } catch (error) {
        failures.push(`${closer.name}: ${errorMessage(error)}`);
        this.logger?.error('close failed', { resource: closer.name, err: error });
      }
    }
    if (failures.length > 0) throw new Error(`Some resources did not close cleanly: ${failures.join('; ')}`);
  }

  private async bounded(closer: Closer): Promise<void> {
    const outcome = await within(
      Promise.resolve(closer.close()).then(() => 'closed' as const),
      closer.timeoutMs,
    );
    if (outcome === 'late') {
      this.logger?.warn('did not close in time; shutdown goes on without it', {
        resource: closer.name,
        timeoutMs: closer.timeoutMs,
      });
    }
  }
}
