import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { assertInstanceName } from '../../bots/bot-instances.js';
import {
  assignBot,
  claimsOf,
  clearAssignment,
  discoveryFreshnessSeconds,
  settleHosts,
} from '../../bots/host-claims.js';
import { Runtime } from '../../runtime/runtime.js';

interface AssignOptions {
  bot?: string;
  host?: string;
  clear?: boolean;
  by?: string;
}

/** Who assigns, when --by does not say: the operator's login. */
function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/**
 * `ctp-etl bots assign`: ends a conflict of BOT_DISCOVERY=hosts (two hosts find one bot) by
 * naming the host whose copy is the bot; the other hosts' copies are ignored from then on.
 */
export function registerBots(program: Command): void {
  const bots = program.command('bots').description('operator actions on bots');
  bots
    .command('assign')
    .description(
      "BOT_DISCOVERY=hosts: name the host whose copy of a bot is the real one (the other hosts' copies are ignored); --clear removes it",
    )
    .argument('[instance]', 'the bot (or --bot)')
    .option('--bot <instance>', 'the bot')
    .option('--host <host>', 'the WORKER_HOST whose copy is the bot')
    .option('--clear', 'remove the assignment: every host that finds the bot counts again')
    .option('--by <name>', "who assigns, recorded with the assignment (default: this login's user name)")
    .action(async (positional: string | undefined, options: AssignOptions) => {
      const instance = assertInstanceName(options.bot ?? positional ?? '');
      if (options.clear === (options.host !== undefined))
        throw new Error('bots assign: give either --host <host> or --clear');
      const runtime = new Runtime(loadConfig());
      try {
        const { config, pg } = runtime;
        if (config.BOT_DISCOVERY !== 'hosts')
          throw new Error('bots assign: only with BOT_DISCOVERY=hosts (one host finds every bot otherwise)');
        const freshness = discoveryFreshnessSeconds(config);
        if (options.clear) {
          const cleared = await clearAssignment(pg, instance);
          await settleHosts(pg, freshness);
          process.stdout.write(
            cleared
              ? `bot ${instance}: assignment removed; every host that finds it counts again\n`
              : `bot ${instance}: had no assignment; nothing changed\n`,
          );
          return;
        }
        const host = options.host!;
        const claims = await claimsOf(pg, instance);
        const owner = claims.find((c) => c.host === host);
        if (owner === undefined) {
          const found =
            claims.length === 0
              ? 'no host finds it'
              : `found by ${claims.map((c) => `${c.host} (${c.dbPath})`).join(', ')}`;
          throw new Error(
            `bots assign: host ${host} does not find bot ${instance} in its BOT_INSTANCES_DIR (${found})`,
          );
        }
        await assignBot(pg, instance, host, options.by ?? operatorName());
        await settleHosts(pg, freshness);
        const ignored = claims.filter((c) => c.host !== host).map((c) => `${c.host} (${c.dbPath})`);
        process.stdout.write(
          `bot ${instance}: assigned to ${host} (${owner.dbPath})` +
            (ignored.length > 0 ? `; the copy on ${ignored.join(', ')} is ignored` : '') +
            '\n',
        );
      } finally {
        await runtime.close();
      }
    });
}
