import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { warnUnlessNoEviction } from '../../src/connections/redis.js';
import type { Logger } from '../../src/logger.js';

/** A logger that keeps what it was told, to assert on the operator-facing warning. */
function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => void lines.push(message),
    error: () => undefined,
    child: () => logger,
  };
  return logger;
}

describe('Redis eviction policy check', () => {
  let redis: Redis;
  let original: string;

  before(async () => {
    redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    original = ((await redis.config('GET', 'maxmemory-policy')) as string[])[1] ?? 'noeviction';
  });
  after(async () => {
    await redis.config('SET', 'maxmemory-policy', original);
    await redis.quit();
  });

  it('warns when Redis may evict BullMQ keys, and stays quiet with noeviction', async () => {
    const lines: string[] = [];
    // maxmemory stays 0 (unlimited), so this policy evicts nothing while the test runs.
    await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    assert.equal(await warnUnlessNoEviction(redis, recordingLogger(lines)), 'allkeys-lru');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /maxmemory-policy is "allkeys-lru"; BullMQ needs "noeviction"/);

    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    assert.equal(await warnUnlessNoEviction(redis, recordingLogger(lines)), 'noeviction');
    assert.equal(lines.length, 1);
  });
});
