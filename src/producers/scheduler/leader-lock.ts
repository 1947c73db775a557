import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../../connections/redis.js';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * One holder at a time, with expiry: the scheduler that holds it is the only writer of job
 * schedules (BullMQ's upsertJobScheduler is not safe from several processes at once). A holder
 * that dies lets go when the key expires; another scheduler then takes over.
 */
export class LeaderLock {
  private readonly token = randomUUID();

  constructor(
    private readonly redis: RedisConnection,
    readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lock if free, or extends it if already ours. True when we hold it. */
  async acquire(): Promise<boolean> {
    const renewed = await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs));
    if (renewed === 1) return true;
    const taken = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    return taken === 'OK';
  }

  async holds(): Promise<boolean> {
    return (await this.redis.get(this.key)) === this.token;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
