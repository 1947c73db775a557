import { Cluster } from 'ioredis';
import type { RedisConnection } from '../connections/redis.js';

export interface RedisMemory {
  /** host:port of the Redis server (each primary of a cluster). */
  node: string;
  usedBytes: number;
  /** maxmemory; 0 when the server has no limit (it then grows until the host runs out). */
  maxBytes: number;
}

/**
 * Memory used and allowed per Redis server, from INFO memory (which managed Redis allows where
 * it forbids CONFIG). Each primary of a cluster is asked: BullMQ's keys fill them unevenly.
 * Under noeviction, a full Redis refuses every write, so no job is added, moved or finished.
 */
export async function redisMemory(redis: RedisConnection): Promise<RedisMemory[]> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  return Promise.all(
    servers.map(async (server) => {
      const info = await server.info('memory');
      return {
        node: `${server.options.host ?? 'localhost'}:${server.options.port ?? 6379}`,
        usedBytes: infoField(info, 'used_memory'),
        maxBytes: infoField(info, 'maxmemory'),
      };
    }),
  );
}

function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:(\\d+)\\r?$`, 'm').exec(info);
  if (!match?.[1]) throw new Error(`Redis INFO memory has no ${field} field`);
  return Number(match[1]);
}
