import { open } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.js';
import { instanceDir } from './bot-instances.js';
import { fileVersion, settledBefore } from './file-version.js';
import { PermanentJobError } from '../errors.js';

/** <instance>/sync-config.json, as the playbook defines it. The token never leaves the worker. */
const syncConfigSchema = z.object({
  tursoUrl: z.string().refine((url) => /^(libsql|https?|wss?|file):/.test(url), {
    message: 'expected a libsql://, https://, wss:// or file: URL',
  }),
  // A line break or other control character can never be sent in an HTTP header: no retry helps.
  tursoToken: z
    .string()
    .refine((token) => ![...token].some((char) => char.charCodeAt(0) < 0x21 || char.charCodeAt(0) === 0x7f), {
      message: 'holds a line break, space or control character, so no server can accept it (the value is not shown)',
    })
    .optional(),
  enabled: z.boolean(),
  lastSync: z.string().nullable().optional(),
});

export type SyncConfig = z.infer<typeof syncConfigSchema>;

export class SyncConfigError extends PermanentJobError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncConfigError';
  }
}

/** 64 KiB: a real sync-config.json is a few hundred bytes. */
const SYNC_CONFIG_MAX_BYTES = 64 * 1024;

export function syncConfigPath(config: Pick<Config, 'BOT_INSTANCES_DIR'>, instance: string): string {
  return path.join(instanceDir(config, instance), 'sync-config.json');
}

/** The bot's sync config; undefined when the bot has none (Turso is off for it). */
export async function readSyncConfig(
  config: Pick<Config, 'BOT_INSTANCES_DIR'>,
  instance: string,
): Promise<SyncConfig | undefined> {
  const file = syncConfigPath(config, instance);
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      // The scheduler reads every bot's file on every pass: a huge one is refused, not read whole.
      const { size } = await handle.stat();
      if (size > SYNC_CONFIG_MAX_BYTES)
        throw new SyncConfigError(
          `bot ${instance}: ${file} is refused: ${size} bytes, above the ${SYNC_CONFIG_MAX_BYTES}-byte limit of a sync-config.json`,
        );
      const buffer = Buffer.alloc(SYNC_CONFIG_MAX_BYTES + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > SYNC_CONFIG_MAX_BYTES)
        throw new SyncConfigError(`bot ${instance}: ${file} is refused: above the ${SYNC_CONFIG_MAX_BYTES}-byte limit`);
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof SyncConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SyncConfigError(`Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SyncConfigError(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = syncConfigSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new SyncConfigError(`${file} is invalid: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * For the scheduler: whether the bot's sync-config.json exists and enables Turso pushes.
 * A malformed file throws SyncConfigError (naming the file), so the scheduler can report it.
 */
export async function tursoPushEnabled(config: Pick<Config, 'BOT_INSTANCES_DIR'>, instance: string): Promise<boolean> {
  // The watcher asks on every write of a pushing bot, the scheduler for every bot on each pass: the
  // answer is kept while the file is the same one, unchanged (a stat, not a read and a parse).
  const file = syncConfigPath(config, instance);
  // Its device and inode say which file it is: where it resolves to changes no rule here.
  const now = await fileVersion(file, { resolve: false });
  const kept = pushAnswers.get(file);
  if (kept !== undefined && kept.version === now.version) return kept.enabled;
  pushAnswers.delete(file);
  const readAt = Date.now();
  const enabled = (await readSyncConfig(config, instance))?.enabled === true;
  if (settledBefore(readAt, [now])) {
    if (pushAnswers.size >= MAX_KEPT_ANSWERS) pushAnswers.clear();
    pushAnswers.set(file, { version: now.version, enabled });
  }
  return enabled;
}

/** sync-config.json -> whether it enabled pushes, and the file's version when it was read (a bad file: none kept). */
const pushAnswers = new Map<string, { version: string; enabled: boolean }>();
const MAX_KEPT_ANSWERS = 50_000;

/**
 * The bots among `bots` whose sync-config.json enables Turso pushes. A file that cannot be read
 * or is malformed goes to `onBadConfig`, which says whether its bot counts as enabled (its push
 * then fails with the error naming the file).
 */
export async function tursoPushBots(
  config: Pick<Config, 'BOT_INSTANCES_DIR'>,
  bots: readonly string[],
  onBadConfig: (bot: string, error: unknown) => boolean,
): Promise<Set<string>> {
  const enabled = new Set<string>();
  for (const bot of bots) {
    const on = await tursoPushEnabled(config, bot).catch((error: unknown) => onBadConfig(bot, error));
    if (on) enabled.add(bot);
  }
  return enabled;
}
