import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';

type Closer = { name: string; close: () => Promise<unknown> | unknown };

/**
 * Resources register a closer when they open; `closeAll` runs them in reverse order,
 * every one of them even when another fails, and is safe to call twice.
 */
export class Closers {
  private readonly closers: Closer[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger?: Logger) {}

  add(name: string, close: Closer['close']): void {
    this.closers.push({ name, close });
  }

  closeAll(): Promise<void> {
    this.closing ??= this.runAll();
    return this.closing;
  }

  private async runAll(): Promise<void> {
    const failures: string[] = [];
    for (const closer of this.closers.reverse()) {
      try {
        await closer.close();
      } catch (error) {
        failures.push(`${closer.name}: ${errorMessage(error)}`);
        this.logger?.error('close failed', { resource: closer.name, err: error });
      }
    }
    if (failures.length > 0) throw new Error(`Some resources did not close cleanly: ${failures.join('; ')}`);
  }
}
