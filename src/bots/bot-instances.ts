import { readdir, stat } from 'node:fs/promises';
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
function isInstanceName(name: string): boolean {
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

/** The bot's FreqTrade database: the first of BOT_DB_FILENAMES found in <instance>/user_data/. */
export async function findBotDatabase(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
  name: string,
): Promise<string | undefined> {
  const userData = path.join(instanceDir(config, name), 'user_data');
  for (const fileName of config.BOT_DB_FILENAMES) {
    const candidate = path.join(userData, fileName);
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) return candidate;
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
  /** Folders skipped, with why (a name that is not plain, no database file). */
  skipped: Array<{ name: string; reason: string }>;
}

/** Every folder of BOT_INSTANCES_DIR that holds a bot database, sorted by name. */
export async function scanBotInstances(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'BOT_DB_FILENAMES'>,
): Promise<InstanceScan> {
  const root = path.resolve(config.BOT_INSTANCES_DIR);
  const entries = await readdir(root, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error(`BOT_INSTANCES_DIR ${root} does not exist`, { cause: error });
    throw error;
  });
  const bots: BotInstance[] = [];
  const skipped: InstanceScan['skipped'] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    if (!isInstanceName(entry.name)) {
      skipped.push({ name: entry.name, reason: 'not a plain instance name' });
      continue;
    }
    const dbPath = await findBotDatabase(config, entry.name);
    if (dbPath === undefined) {
      skipped.push({ name: entry.name, reason: `no ${config.BOT_DB_FILENAMES.join(' or ')} in user_data/` });
      continue;
    }
    bots.push({ name: entry.name, dir: path.join(root, entry.name), dbPath });
  }
  return { bots, skipped };
}
