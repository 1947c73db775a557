import type { Stats } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.js';
import { PermanentJobError } from '../errors.js';

/** A bot instance name is a plain folder name: it can never point outside BOT_INSTANCES_DIR. */
const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

class InvalidInstanceNameError extends PermanentJobError {
  constructor(name: string) {
    super(
      `Bot instance name ${JSON.stringify(name)} is refused: use 1 to 128 letters, digits, dots, dashes or underscores, ` +
        'starting with a letter or digit (no slashes, no "..")',
    );
    this.name = 'InvalidInstanceNameError';
  }
}

/** A plain instance name (refused otherwise); pure, for payload schemas. */
export function isInstanceName(name: string): boolean {
  return INSTANCE_NAME.test(name) && !name.includes('..');
}

/** The payload field every per-bot job carries: a plain instance name, never a path. */
export const instanceNameSchema = z
  .string()
  .refine(isInstanceName, 'expected a plain bot instance name (letters, digits, dots, dashes, underscores; no "..")');

export function assertInstanceName(name: string): string {
  if (!isInstanceName(name)) throw new InvalidInstanceNameError(name);
  return name;
}

export function instanceDir(config: Pick<Config, 'BOT_INSTANCES_DIR'>, name: string): string {
  return path.join(path.resolve(config.BOT_INSTANCES_DIR), assertInstanceName(name));
}

/**
 * A bot folder or database file whose real path breaks the rule: real paths stay inside
 * BOT_INSTANCES_DIR and belong to one bot (its own folder). Permanent: a retry finds the same link.
 */
export class BotPathRefusedError extends PermanentJobError {
  constructor(bot: string, file: string, real: string, rule: string) {
    super(`bot ${bot}: ${file} is refused: it resolves to ${real}, and ${rule}`);
    this.name = 'BotPathRefusedError';
  }
}

async function existing(file: string): Promise<Stats | undefined> {
  return lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
}

/** Which bot folder of BOT_INSTANCES_DIR a real path lies in, or undefined when it lies outside. */
function owningFolder(realRoot: string, real: string): string | undefined {
  const relative = path.relative(realRoot, real);
  if (relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative))
    return undefined;
  return relative.split(path.sep)[0];
}

/** Checks a real path against the rule, for bot `name`; throws BotPathRefusedError naming what it found. */
function assertOwnPath(realRoot: string, name: string, file: string, real: string): void {
  const owner = owningFolder(realRoot, real);
  if (owner === undefined)
    throw new BotPathRefusedError(name, file, real, `real paths must stay inside BOT_INSTANCES_DIR (${realRoot})`);
  if (owner !== name)
    throw new BotPathRefusedError(name, file, real, `that belongs to bot folder ${owner}, not to ${name}`);
}

/**
 * The bot's FreqTrade database: the first of BOT_DB_FILENAMES found in <instance>/user_data/.
 * Symlinks are followed only where they stay inside the bot's own folder: a bot folder that is a
 * link elsewhere, or a database linked to another bot's file or outside BOT_INSTANCES_DIR, is
 * refused (BotPathRefusedError), so no bot is ever imported as another.
 */
export async function findBotDatabase(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  name: string,
): Promise<string | undefined> {
  if ((await existing(instanceDir(config, name))) === undefined) return undefined;
  return findDatabaseUnder(config, await realpath(path.resolve(config.BOT_INSTANCES_DIR)), name);
}

/** findBotDatabase with BOT_INSTANCES_DIR's real path already resolved (once per scan, not per bot). */
async function findDatabaseUnder(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  realRoot: string,
  name: string,
): Promise<string | undefined> {
  const dir = instanceDir(config, name);
  if ((await existing(dir)) === undefined) return undefined;
  const realDir = await realpath(dir);
  // A bot folder that is a link: to another bot's folder, or out of BOT_INSTANCES_DIR, is refused.
  assertOwnPath(realRoot, name, dir, realDir);
  const userData = path.join(dir, 'user_data');
  for (const fileName of config.BOT_DB_FILENAMES) {
    const candidate = path.join(userData, fileName);
    const info = await existing(candidate);
    if (info === undefined) continue;
    const real = await realpath(candidate).catch(() => undefined);
    if (real === undefined) continue; // a link to nothing: no database here
    assertOwnPath(realRoot, name, candidate, real);
    if ((await lstat(real)).isFile()) return candidate;
  }
  return undefined;
}

export interface BotInstance {
  name: string;
  dir: string;
  dbPath: string;
}

export interface InstanceScan {
  bots: BotInstance[];
  /** Folders skipped, with why (a name that is not plain, no database file, a link that breaks the path rule). */
  skipped: Array<{ name: string; reason: string }>;
}

/** Every folder of BOT_INSTANCES_DIR that holds a bot database, sorted by name. */
export async function scanBotInstances(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
): Promise<InstanceScan> {
  const scan: InstanceScan = { bots: [], skipped: [] };
  for await (const batch of scanBotInstanceBatches(config)) {
    scan.bots.push(...batch.bots);
    scan.skipped.push(...batch.skipped);
  }
  return scan;
}

/**
 * The same scan, `batchSize` folders at a time, in name order: a caller that registers each batch
 * and keeps only the names never holds every bot's paths at once (the scheduler, every pass).
 */
export async function* scanBotInstanceBatches(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  batchSize = 500,
): AsyncGenerator<InstanceScan> {
  const root = path.resolve(config.BOT_INSTANCES_DIR);
  const entries = await readdir(root, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error(`BOT_INSTANCES_DIR ${root} does not exist`, { cause: error });
    throw error;
  });
  const names = entries
    .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b));
  const realRoot = await realpath(root);
  for (let start = 0; start < names.length; start += batchSize) {
    const batch: InstanceScan = { bots: [], skipped: [] };
    for (const name of names.slice(start, start + batchSize)) {
      if (!isInstanceName(name)) {
        batch.skipped.push({ name, reason: 'not a plain instance name' });
        continue;
      }
      let dbPath: string | undefined;
      try {
        dbPath = await findDatabaseUnder(config, realRoot, name);
      } catch (error) {
        if (!(error instanceof BotPathRefusedError)) throw error;
        batch.skipped.push({ name, reason: error.message });
        continue;
      }
      if (dbPath === undefined) {
        batch.skipped.push({ name, reason: `no ${config.BOT_DB_FILENAMES.join(' or ')} in user_data/` });
        continue;
      }
      batch.bots.push({ name, dir: path.join(root, name), dbPath });
    }
    yield batch;
  }
}
