import type { WorkerFleet } from './worker-fleet.js';

/**
 * kill -9 of a random worker of a fleet every 0.3 to 1.5 s (plus the replacement's start),
 * until stopped. Remembers when each kill happened, for recovery times.
 */
export class RandomKiller {
  readonly killedAt: number[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(fleet: WorkerFleet, random: () => number) {
    this.loop = (async () => {
      while (this.running) {
        await new Promise((resolve) => setTimeout(resolve, 300 + random() * 1200));
        if (!this.running) break;
        this.killedAt.push(Date.now());
        await fleet.killOneAndReplace(random);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
