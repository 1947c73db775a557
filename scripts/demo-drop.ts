/**
 * Removes what a demo run left in the services: the PostgreSQL schema PG_SCHEMA and the Redis
 * keys of QUEUE_PREFIX. `.ci/run` calls it after its demo in a fresh clone; by hand:
 * `PG_SCHEMA=demo QUEUE_PREFIX=demo node --import tsx scripts/demo-drop.ts`.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/config.js';

const config = loadConfig();
if (config.PG_SCHEMA === 'public' || config.QUEUE_PREFIX === 'ctp') {
  process.stderr.write('demo-drop: refusing to drop the default schema "public" or queue prefix "ctp"\n');
  process.exit(2);
}
const client = new pg.Client({ connectionString: config.DATABASE_URL });
await client.connect();
await client.query(`DROP SCHEMA IF EXISTS "${config.PG_SCHEMA.replaceAll('"', '""')}" CASCADE`);
await client.end();
const redis = new Redis(config.REDIS_URL);
let removed = 0;
for await (const keys of redis.scanStream({ match: `${config.QUEUE_PREFIX}:*`, count: 500 }) as AsyncIterable<
  string[]
>) {
  if (keys.length > 0) removed += await redis.unlink(...keys);
}
redis.disconnect();
process.stdout.write(
  `demo-drop: schema ${config.PG_SCHEMA} dropped, ${removed} Redis keys of ${config.QUEUE_PREFIX} removed\n`,
);
