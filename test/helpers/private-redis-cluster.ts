import { execFile } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/redis-cluster.sh', import.meta.url));
const run = promisify(execFile);

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Six ports in a row, and their cluster bus ports (+10000), that nothing listens on. */
async function freePortRun(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: 6 }, (_, i) => first + i).flatMap((p) => [p, p + 10_000]);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return first;
  }
  throw new Error('no six free ports in a row for a Redis Cluster');
}

/**
 * A client of one node, for one command: it connects when asked, never retries and never
 * reconnects, so a node that is down (killed on purpose) fails the call at once.
 */
function nodeClient(port: number): Redis {
  const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => undefined);
  return redis;
}

interface ClusterNode {
  port: number;
  primary: boolean;
  failed: boolean;
  slots: Array<[number, number]>;
}

/**
 * A Redis Cluster of the test's own (scripts/redis-cluster.sh on free ports), so a test can
 * kill its primaries without touching the shared one.
 */
export class PrivateRedisCluster {
  private readonly dir = tempDir('redis-cluster');
  firstPort = 0;
  seeds = '';

  async start(nodeTimeoutMs = 1000): Promise<void> {
    this.firstPort = await freePortRun();
    const { stdout } = await run('bash', [SCRIPT], {
      env: {
        ...process.env,
        REDIS_CLUSTER_PORT: String(this.firstPort),
        REDIS_CLUSTER_DIR: this.dir.path,
        REDIS_CLUSTER_NODE_TIMEOUT: String(nodeTimeoutMs),
      },
    });
    const seeds = /TEST_REDIS_CLUSTER_NODES=(\S+)/.exec(stdout)?.[1];
    if (!seeds) throw new Error(`scripts/redis-cluster.sh printed no seeds:\n${stdout}`);
    this.seeds = seeds;
  }

  private get ports(): number[] {
    return Array.from({ length: 6 }, (_, i) => this.firstPort + i);
  }

  /** The cluster as a live node sees it. */
  async nodes(): Promise<ClusterNode[]> {
    for (const port of this.ports) {
      const redis = nodeClient(port);
      try {
        await redis.connect();
        const text = String(await redis.cluster('NODES'));
        return text
          .trim()
          .split('\n')
          .map((line) => {
            const [, address, flags, , , , , , ...slots] = line.split(' ');
            return {
              port: Number(/:(\d+)@/.exec(address ?? '')?.[1]),
              primary: (flags ?? '').includes('master'),
              failed: /fail/.test(flags ?? ''),
              slots: slots
                .filter((range) => /^\d/.test(range))
                .map((range) => {
                  const [from, to] = range.split('-').map(Number);
                  return [from!, to ?? from!] as [number, number];
                }),
            };
          });
      } catch {
        // that node is down: ask the next
      } finally {
        redis.disconnect();
      }
    }
    throw new Error('no node of the cluster answers');
  }

  /** The live primary that serves a slot. */
  async primaryOf(slot: number): Promise<number | undefined> {
    const nodes = await this.nodes();
    return nodes.find((n) => n.primary && !n.failed && n.slots.some(([from, to]) => slot >= from && slot <= to))?.port;
  }

  /** kill -9 of one node's redis-server (no shutdown, no last write to disk). */
  async kill(port: number): Promise<void> {
    const redis = nodeClient(port);
    let info: string;
    try {
      await redis.connect();
      info = await redis.info('server');
    } finally {
      redis.disconnect();
    }
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    process.kill(pid, 'SIGKILL');
    await waitFor(
      `redis-server ${pid} to exit`,
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      10_000,
    );
  }

  async remove(): Promise<void> {
    for (const port of this.ports) {
      const redis = nodeClient(port);
      await redis
        .connect()
        .then(() => redis.shutdown('NOSAVE'))
        .catch(() => undefined);
      redis.disconnect();
    }
    this.dir.remove();
  }
}
