import { Cluster, Redis } from 'ioredis';
import type { Config } from '../../src/config.js';

/** Deletes every key under a BullMQ prefix (the test's own), so reruns start clean; on a cluster, on every primary. */
export async function deletePrefix(
  config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>,
  prefix: string,
): Promise<void> {
  const seeds = config.REDIS_CLUSTER_NODES;
  const client = seeds
    ? new Cluster(
        seeds.map(({ host, port }) => ({ host, port })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      )
    : new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    if (client instanceof Cluster) await new Promise((resolve) => client.once('ready', resolve));
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        // One key at a time: on a cluster a DEL of several keys must not span slots.
        for (const key of keys) await node.del(key);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}
