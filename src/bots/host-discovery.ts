import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { errorMessage } from '../errors.js';
import { tursoPushBots } from './sync-config.js';
import type { Logger } from '../logger.js';
import { scanBotInstances } from './bot-instances.js';
import { heldJobs } from './held-bots.js';
import { discoveryFreshnessSeconds, recordHostClaims } from './host-claims.js';

export interface HostDiscoveryPass {
  host: string;
  bots: number;
  missing: string[];
}

/**
 * One host's bot discovery (BOT_DISCOVERY=hosts): its workers scan their own BOT_INSTANCES_DIR
 * and record in PostgreSQL that this host holds those bots, so the scheduler, which cannot see
 * this host's disk, schedules them on this host's queues.
 */
async function discoverHostBots(config: Config, pg: PgPool, host: string, logger: Logger): Promise<HostDiscoveryPass> {
  // PostgreSQL's clock, as every host's pass and claim is dated by it.
  const started = await pg.query<{ at: Date }>('SELECT now() AS at');
  const scan = await scanBotInstances(config);
  for (const skipped of scan.skipped) logger.warn('skipped a folder in BOT_INSTANCES_DIR', skipped);
  const pushing = await tursoPushBots(
    config,
    scan.bots.map((bot) => bot.name),
    (bot, error) => {
      logger.warn('turso-push not scheduled: bad sync-config.json', { bot, error: errorMessage(error) });
      return false;
    },
  );
  const bots = scan.bots.map((bot) => ({ name: bot.name, dbPath: bot.dbPath, tursoPush: pushing.has(bot.name) }));
  const missing = await recordHostClaims(pg, host, bots, {
    startedAt: started.rows[0]!.at,
    freshnessSeconds: discoveryFreshnessSeconds(config),
  });
  // The scheduler cannot see this host's files: a held bot whose file changed is released here.
  await heldJobs(
    pg,
    bots.map((b) => b.name),
  );
  return { host, bots: bots.length, missing };
}

/** Runs the host's discovery now and every DISCOVERY_INTERVAL until stopped; a failed pass is logged and retried. */
export class HostDiscovery {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly config: Config,
    private readonly pg: PgPool,
    private readonly host: string,
    private readonly logger: Logger,
  ) {}

  /** Resolves after the first pass, so the host's bots are known before its workers report ready. */
  async start(): Promise<void> {
    await this.pass();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => this.schedule());
    }, this.config.DISCOVERY_INTERVAL);
  }

  private async pass(): Promise<void> {
    try {
      const result = await discoverHostBots(this.config, this.pg, this.host, this.logger);
      this.logger.info('host discovery', { ...result });
    } catch (error) {
      this.logger.error('host discovery failed; next pass retries', { host: this.host, error: errorMessage(error) });
    }
  }
}
