import { randomBytes } from 'node:crypto';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { instanceDir } from '../../bots/bot-instances.js';
import { PermanentJobError } from '../../errors.js';
import { defineHandler } from '../job.js';
import { createDatabaseToken, ensureDatabase } from '../../turso/platform-api.js';
import { readSyncConfig, syncConfigPath } from '../../turso/sync-config.js';
import { tursoProvisionContract } from './contract.js';

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

/**
 * Gives a bot its Turso database: creates it through the Turso Platform API (or finds it, when a
 * previous run created it), mints a database token and writes <instance>/sync-config.json
 * (atomically, readable by its owner only). A bot that already has a sync-config.json is left alone.
 * The result never holds the token.
 */
export const tursoProvisionHandler = defineHandler({
  contract: tursoProvisionContract,
  async handle(p, ctx) {
    const { TURSO_ORG: org, TURSO_PLATFORM_TOKEN: token, TURSO_API_URL: baseUrl, TURSO_GROUP: group } = ctx.config;
    if (org === undefined || token === undefined)
      throw new PermanentJobError('turso-provision needs TURSO_ORG and TURSO_PLATFORM_TOKEN to be set');
    const file = syncConfigPath(ctx.config, p.instance);
    const dir = await stat(instanceDir(ctx.config, p.instance)).catch(() => undefined);
    if (!dir?.isDirectory())
      throw new PermanentJobError(`bot ${p.instance}: no instance folder ${instanceDir(ctx.config, p.instance)}`);
    const existing = await readSyncConfig(ctx.config, p.instance);
    if (existing !== undefined) {
      await ctx.log(`bot ${p.instance}: ${file} exists already; nothing provisioned`);
      return { instance: p.instance, skipped: 'sync-config.json exists' };
    }
    const api = { baseUrl, org, token, signal: ctx.signal };
    const name = databaseNameFor(p.instance);
    const { hostname, created } = await ensureDatabase(api, name, group);
    await ctx.log(
      `bot ${p.instance}: database ${name} ${created ? 'created' : 'found'} in ${org}/${group} at ${hostname}`,
    );
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
    await ctx.log(`bot ${p.instance}: wrote ${file}`);
    return { instance: p.instance, database: name, url: tursoUrl, created };
  },
});
