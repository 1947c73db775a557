import { randomBytes } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { instanceDir } from '../bots/bot-instances.js';
import { PermanentJobError } from '../errors.js';
import type { Config } from '../config.js';
import { createDatabaseToken, ensureDatabase } from './platform-api.js';
import { readSyncConfig, syncConfigPath } from '../bots/sync-config.js';

/** Turso database names: lower-case letters, digits and dashes. */
function databaseNameFor(instance: string): string {
  return (
    instance
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 58) || 'bot'
  );
}

export interface ProvisionOptions {
  config: Pick<Config, 'TURSO_ORG' | 'TURSO_PLATFORM_TOKEN' | 'TURSO_API_URL' | 'TURSO_GROUP' | 'BOT_INSTANCES_DIR'>;
  instance: string;
  signal: AbortSignal;
  /** A line an operator reads in the job's log. */
  log: (line: string) => Promise<void>;
}

export type ProvisionResult =
  { instance: string; skipped: string } | { instance: string; database: string; url: string; created: boolean };

/**
 * Gives a bot its Turso database: creates it through the Turso Platform API (or finds it, when a
 * previous run created it), mints a database token and writes <instance>/sync-config.json
 * (atomically, readable by its owner only). A bot that already has a sync-config.json is left alone.
 * The result never holds the token.
 */
export async function provisionBot(options: ProvisionOptions): Promise<ProvisionResult> {
  const { config, instance, signal, log } = options;
  const { TURSO_ORG: org, TURSO_PLATFORM_TOKEN: token, TURSO_API_URL: baseUrl, TURSO_GROUP: group } = config;
  if (org === undefined || token === undefined)
    throw new PermanentJobError('turso-provision needs TURSO_ORG and TURSO_PLATFORM_TOKEN to be set');
  const file = syncConfigPath(config, instance);
  const dir = await stat(instanceDir(config, instance)).catch(() => undefined);
  if (!dir?.isDirectory())
    throw new PermanentJobError(`bot ${instance}: no instance folder ${instanceDir(config, instance)}`);
  const existing = await readSyncConfig(config, instance);
  if (existing !== undefined) {
    await log(`bot ${instance}: ${file} exists already; nothing provisioned`);
    return { instance, skipped: 'sync-config.json exists' };
  }
  const api = { baseUrl, org, token, signal };
  const name = databaseNameFor(instance);
  const { hostname, created } = await ensureDatabase(api, name, group);
  await log(`bot ${instance}: database ${name} ${created ? 'created' : 'found'} in ${org}/${group} at ${hostname}`);
  const jwt = await createDatabaseToken(api, name);
  const tursoUrl = `libsql://${hostname}`;
  const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(
      temp,
      `${JSON.stringify({ tursoUrl, tursoToken: jwt, enabled: true, lastSync: null }, null, 2)}\n`,
      { mode: 0o600, flush: true },
    );
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await log(`bot ${instance}: wrote ${file}`);
  return { instance, database: name, url: tursoUrl, created };
}
