import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { addTrades, createBotDatabase, type GeneratedBot } from './generate-bot-db.js';

/**
 * The real FreqTrade databases of `../shared/fixtures` beside the checkout: not ours to commit,
 * so a plain clone has none. Tests of them run when the folder is there and are skipped, saying
 * why, when it is not (`{ skip: FIXTURES_SKIP }`); every other test uses generated databases.
 */
export const FIXTURES_DIR = path.resolve(fileURLToPath(import.meta.url), '../../../../shared/fixtures/freqtrade');
export const FIXTURES_SKIP: string | false = existsSync(FIXTURES_DIR)
  ? false
  : `the real FreqTrade databases are not in ${FIXTURES_DIR} (a plain clone has no ../shared/fixtures)`;

export const FIXTURE_FILES = {
  chaserun: '2021-35cols-chaserun.sqlite',
  jugder: '2022-36cols-jugder.sqlite',
  arthurahiyarov: '2022-44cols-arthurahiyarov.sqlite',
  darkospale: '2023-50cols-darkospale.dryrun.sqlite',
  th2002: '2024-49cols-th2002.dryrun.sqlite',
  germoso: '2025-51cols-germoso.sqlite',
} as const;

export type FixtureName = keyof typeof FIXTURE_FILES;

/** `<instancesDir>/<instance>/user_data/tradesv3.sqlite`, as FreqTrade's docker layout has it. */
export function botDbPath(instancesDir: string, instance: string): string {
  return path.join(instancesDir, instance, 'user_data', 'tradesv3.sqlite');
}

/** Copies a real fixture (never the original) into a bot folder; only in tests skipped by FIXTURES_SKIP. */
export function installFixture(instancesDir: string, instance: string, fixture: FixtureName): string {
  const target = botDbPath(instancesDir, instance);
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(path.join(FIXTURES_DIR, FIXTURE_FILES[fixture]), target);
  return target;
}

/**
 * A generated bot database of the newest FreqTrade schema with a fixed number of orders per trade
 * (default 2: an entry and an exit) and no trade_custom_data, which keeps counts easy to assert and
 * lets a test delete trades as it likes (better-sqlite3 enforces foreign keys); rollback journal unless
 * `wal` (a lock test needs a writer that blocks readers). generate-bot-db.ts is the full generator.
 */
export function createFreqtradeDb(
  file: string,
  options: { trades: number; ordersPerTrade?: number; seed?: number; wal?: boolean },
): GeneratedBot {
  return createBotDatabase(file, {
    trades: options.trades,
    ordersPerTrade: options.ordersPerTrade ?? 2,
    customData: false,
    seed: options.seed ?? 1,
    wal: options.wal ?? false,
  });
}

/** Adds trades `first`..`first+count-1` with `ordersPerTrade` orders each to an open database. */
export function insertTrades(
  db: Database.Database,
  first: number,
  count: number,
  ordersPerTrade: number,
  seed: number,
): void {
  addTrades(db, { first, count, ordersPerTrade, seed, customData: false });
}
