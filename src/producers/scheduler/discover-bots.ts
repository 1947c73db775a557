import type { Config } from '../../config.js';
import type { PgPool } from '../../connections/postgres.js';
import { scanBotInstances } from '../../bots/bot-instances.js';
import { markMissingBots, registerBots } from '../../bots/bot-registry.js';

export interface Discovery {
  /** Every bot found on disk, registered. */
  bots: string[];
  /** Registered bots whose database is gone, marked missing in `bots` by this pass. */
  missing: string[];
  /** Folders that are not bots, with why. */
  skipped: Array<{ name: string; reason: string }>;
}

/** Scans BOT_INSTANCES_DIR, registers what it finds, and marks the registered bots that are gone. */
export async function discoverBots(config: Config, pg: PgPool): Promise<Discovery> {
  const scan = await scanBotInstances(config);
  await registerBots(pg, scan.bots);
  const names = scan.bots.map((b) => b.name);
  const missing = await markMissingBots(pg, names);
  return { bots: names, missing, skipped: scan.skipped };
}
