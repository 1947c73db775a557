import { defineHandler } from '../job.js';
import { provisionBot } from '../../turso/provision-bot.js';
import { tursoProvisionContract } from './contract.js';

export const tursoProvisionHandler = defineHandler({
  contract: tursoProvisionContract,
  handle: (p, ctx) => provisionBot({ config: ctx.config, instance: p.instance, signal: ctx.signal, log: ctx.log }),
});
