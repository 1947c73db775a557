import { startCli, type CliProcess } from './cli-process.js';

/**
 * Real `ctp-etl worker` processes that a test can kill -9 and restart, as an orchestrator
 * would after a crash.
 */
export class WorkerFleet {
  private readonly workers: CliProcess[] = [];
  kills = 0;

  constructor(
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async start(count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, () => this.spawnOne()));
  }

  /** kill -9 one worker at random (no shutdown of any kind), then start a replacement. */
  async killOneAndReplace(random: () => number): Promise<void> {
    const index = Math.floor(random() * this.workers.length);
    const victim = this.workers[index];
    if (!victim) return;
    this.workers.splice(index, 1);
    victim.child.kill('SIGKILL');
    await victim.exited;
    this.kills += 1;
    await this.spawnOne();
  }

  /** Outputs of every worker still running, for a failing test's message. */
  outputs(): string {
    return this.workers.map((w, i) => `--- worker ${i}\n${w.output().slice(-2000)}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.splice(0).map(async (w) => {
        w.child.kill('SIGTERM');
        const timer = setTimeout(() => w.child.kill('SIGKILL'), 15_000);
        await w.exited;
        clearTimeout(timer);
      }),
    );
  }

  private async spawnOne(): Promise<void> {
    const worker = startCli(['worker', ...this.args], this.env);
    this.workers.push(worker);
    await worker.waitForOutput(/workers ready/, 60_000);
  }
}
