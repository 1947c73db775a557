import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { testConfig, uniqueName } from '../helpers/test-config.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/demo-services.ts', import.meta.url));

/** A port nobody listens on: bound by the system, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function check(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, ['--import', 'tsx', SCRIPT], {
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

describe("npm run demo's service check", () => {
  const config = testConfig(uniqueName('demo_services'));

  it('passes when PostgreSQL and Redis answer', async () => {
    const result = await check({ DATABASE_URL: config.DATABASE_URL, REDIS_URL: config.REDIS_URL });
    assert.deepEqual(result, { code: 0, stderr: '' });
  });

  it('names the service that does not answer, its URL without the password, and how to fix it; no stack trace', async () => {
    const pgPort = await closedPort();
    const redisPort = await closedPort();
    const result = await check({
      DATABASE_URL: `postgres://demo:s3cret@127.0.0.1:${pgPort}/postgres`,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`PostgreSQL does not answer at postgres://\\*\\*\\*@127\\.0\\.0\\.1:${pgPort}/postgres`),
    );
    assert.match(result.stderr, /point DATABASE_URL at a running one/);
    assert.match(result.stderr, new RegExp(`Redis does not answer at redis://127\\.0\\.0\\.1:${redisPort}`));
    assert.match(result.stderr, /point REDIS_URL at a running one/);
    assert.doesNotMatch(result.stderr, /s3cret/);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  });

  it('names only Redis when PostgreSQL answers', async () => {
    const result = await check({
      DATABASE_URL: config.DATABASE_URL,
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Redis does not answer/);
    assert.doesNotMatch(result.stderr, /PostgreSQL/);
  });
});
