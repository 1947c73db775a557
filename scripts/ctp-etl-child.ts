import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config.js';

/** The CLI entry point that tests and benchmarks run as a child process (`node CLI <command>`). */
export const CLI = fileURLToPath(new URL('../bin/ctp-etl.js', import.meta.url));

/** The environment that points a child `ctp-etl` process at a run's own schema, queue prefix and services. */
export function connectionEnv(config: Config): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    PG_SCHEMA: config.PG_SCHEMA,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    ...(config.MONGO_URL ? { MONGO_URL: config.MONGO_URL } : {}),
    ...(config.REDIS_CLUSTER_NODES
      ? { REDIS_CLUSTER_NODES: config.REDIS_CLUSTER_NODES.map(({ host, port }) => `${host}:${port}`).join(',') }
      : {}),
  };
}
