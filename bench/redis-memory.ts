import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PrivateRedis } from '../scripts/private-redis.js';
import { machine } from './_bench-env.js';

/**
 * Redis memory per bot, for CAPACITY.md: `INFO memory` used_memory of a Redis of its own after
 * the schedules of 1,000, 5,000 and 10,000 bots (a bot-sync and a turso-push scheduler each,
 * with the next delayed job each keeps), and per kept job (completed or failed jobs are kept as
 * KEEP_COMPLETED_* / KEEP_FAILED_AGE say; a kept job costs about what a waiting one does plus
 * its result or error).
 */
const redisServer = new PrivateRedis();
await redisServer.start();
const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
const opts = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 86400, count: 1000 },
};
const sync = new Queue('bot-sync', { connection: redis, prefix: '{ctp}' });
const push = new Queue('turso-push', { connection: redis, prefix: '{ctp}' });
const base = await used();
const rows: string[] = [];
let bots = 0;
for (const target of [1000, 5000, 10_000]) {
  for (; bots < target; bots++) {
    const bot = `bot-${String(bots).padStart(5, '0')}`;
    await sync.upsertJobScheduler(
      `bot-sync:${bot}`,
      { every: 300_000, offset: bots % 300_000 },
      { name: `bot-sync ${bot}`, data: { bot }, opts },
    );
    await push.upsertJobScheduler(
      `turso-push:${bot}`,
      { every: 900_000, offset: bots % 900_000 },
      { name: `turso-push ${bot}`, data: { instance: bot }, opts },
    );
  }
  const bytes = (await used()) - base;
  rows.push(`| ${target} bots | ${(bytes / 2 ** 20).toFixed(1)} MB | ${Math.round(bytes / target)} bytes per bot |`);
}
const echo = new Queue('echo', { connection: redis, prefix: '{ctp}' });
const beforeJobs = await used();
for (let i = 0; i < 10; i++) {
  await echo.addBulk(
    Array.from({ length: 1000 }, (_, j) => ({
      name: `bot-sync bot-${i}${j}`,
      data: { bot: `bot-${i}${j}`, full: false },
      opts,
    })),
  );
}
const perJob = ((await used()) - beforeJobs) / 10_000;
rows.push(`| one kept job (10,000 waiting jobs, bot-sync payload) | | ${Math.round(perJob)} bytes per job |`);
process.stdout.write(
  [`redis memory; ${machine()}`, '| measure | used_memory | per unit |', '| --- | --- | --- |', ...rows, ''].join('\n'),
);
await Promise.all([sync.close(), push.close(), echo.close()]);
redis.disconnect();
await redisServer.remove();
