import type { Config } from '../../config.js';
import type { PgPool } from '../../connections/postgres.js';
import { scanBotInstanceBatches } from '../../bots/bot-instances.js';
import { markMissingBots, registerBots } from '../../bots/bot-registry.js';

export interface Discovery {
  /** Every bot found on disk, registered. */
  bots: string[];
  /** Registered bots whose database is gone, marked missing in `bots` by this pass. */
  missing: string[];
  /** Folders that are not bots, with why. */
  skipped: Array<{ name: string; reason: string }>;
}

/** Scans BOT_INSTANCES_DIR, registers what it finds (a batch at a time), and marks the registered bots that are gone. */
export async function discoverBots(config: Config, pg: PgPool): Promise<Discovery> {
  const names: string[] = [];
  const skipped: Discovery['skipped'] = [];
  // Registered a batch at a time: only the names outlive a batch, not every bot's paths.
  for await (const batch of scanBotInstanceBatches(config)) {
    await registerBots(pg, batch.bots);
    for (const bot of batch.bots) names.push(bot.name);
    skipped.push(...batch.skipped);
  }
  const missing = await markMissingBots(pg, names);
  return { bots: names, missing, skipped };
}
