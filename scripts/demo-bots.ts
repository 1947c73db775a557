import path from 'node:path';
import type { BotDbOptions } from './freqtrade/generate-bot-db.js';

/** The demo's bots: several FreqTrade versions, spot and futures; scripts/demo-writer.ts keeps trading in LIVE_BOT. */
export const DEMO_BOTS: Record<string, BotDbOptions & { seed: number }> = {
  'spot-2019': { version: 'S01', trades: 300, seed: 19 },
  'spot-2021': { version: 'S05', trades: 1000, seed: 21 },
  'spot-2023': { version: 'S09', trades: 1500, seed: 23 },
  'futures-2024': { version: 'S11', trades: 2500, seed: 24, tradingMode: 'futures' },
  'futures-live': { version: 'S13', trades: 4000, seed: 26, tradingMode: 'futures' },
};
export const LIVE_BOT = 'futures-live';

export const demoBotDb = (instances: string, instance: string): string =>
  path.join(instances, instance, 'user_data', 'tradesv3.sqlite');
