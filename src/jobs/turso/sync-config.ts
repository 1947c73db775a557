import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { instanceDir } from '../../bots/bot-instances.js';
import { PermanentJobError } from '../../errors.js';

/** <instance>/sync-config.json, as the playbook defines it. The token never leaves the worker. */
const syncConfigSchema = z.object({
  tursoUrl: z.string().refine((url) => /^(libsql|https?|wss?|file):/.test(url), {
    message: 'expected a libsql://, https://, wss:// or file: URL',
  }),
  tursoToken: z.string().optional(),
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
    text = await readFile(file, 'utf8');
  } catch (error) {
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
