import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../scripts/private-redis.js';
import { seedBotSyncState } from '../helpers/bot-sync-state.js';
import { cliEnv, exitedWithin, listeningPort, startCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';

describe('an unreachable Redis', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let port: number;
  let unreachable: NodeJS.ProcessEnv;

  before(async () => {
    env = await createTestEnvironment('redis_unreachable');
    await seedBotSyncState(env.db.pool, [{ instance: 'alpha', syncedSecondsAgo: 60 }]);
    port = await freePort();
    unreachable = cliEnv(env.config, {
      REDIS_URL: `redis://etl:redis-secret@127.0.0.1:${port}`,
      REDIS_CONNECT_TIMEOUT: '1s',
      SHUTDOWN_TIMEOUT: '1s',
    });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
  });

  for (const args of [['status'], ['enqueue', 'echo', '--json', '{"message":"hi"}'], ['scheduler', '--once']]) {
    it(`fails \`${args[0]}\` within seconds, naming the Redis it tried (password masked)`, async () => {
      const cli = startCli(args, unreachable);
      // Generous: the old code never exited; a loaded machine takes seconds to start the CLI.
      const { code } = await exitedWithin(cli, 60_000);
      assert.equal(code, 1, cli.output());
      assert.match(
        cli.output(),
        new RegExp(`Cannot reach redis://\\*\\*\\*@127\\.0\\.0\\.1:${port} within 1000 ms: connect ECONNREFUSED`),
      );
      assert.doesNotMatch(cli.output(), /redis-secret/);
    });
  }

  it('a worker warns while it retries, and SIGTERM ends it within SHUTDOWN_TIMEOUT and a little', async () => {
    const worker = startCli(['worker', '--queues', 'echo'], unreachable);
    await worker.waitForOutput(/redis error: connect ECONNREFUSED/, 60_000);
    assert.match(worker.output(), new RegExp(`"redis":"redis://\\*\\*\\*@127\\.0\\.0\\.1:${port}"`));
    const signalledAt = Date.now();
    worker.child.kill('SIGTERM');
    const { code } = await exitedWithin(worker, 15_000);
    const shutdownMs = Date.now() - signalledAt;
    assert.equal(code, 0, worker.output());
    assert.ok(shutdownMs < 1000 + 8000, `SIGTERM to exit took ${shutdownMs} ms:\n${worker.output()}`);
    assert.doesNotMatch(worker.output(), /redis-secret/);
  });

  it('the board answers /metrics in bounded time, counting the Redis errors it logs only now and then', async () => {
    const board = startCli(['board', '--port', '0'], unreachable);
    try {
      const boardPort = await listeningPort(board, 'board listening', 60_000);
      const scrape = async () => {
        const response = await fetch(`http://127.0.0.1:${boardPort}/metrics`, { signal: AbortSignal.timeout(8_000) });
        assert.equal(response.status, 200);
        return response.text();
      };
      const redisErrors = (text: string) =>
        Number(/^ctp_etl_error_events_total\{source="redis"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      const text = await waitFor('several Redis errors counted', async () => {
        const metrics = await scrape();
        return redisErrors(metrics) >= 3 && metrics;
      });
      assert.match(
        text,
        /^ctp_etl_bot_sync_lag_seconds\{instance="alpha"\} \d/m,
        'what PostgreSQL gives is still there',
      );
      const logged = board.output().match(/redis error: connect ECONNREFUSED/g) ?? [];
      assert.ok(logged.length < redisErrors(text), `${logged.length} lines for ${redisErrors(text)} errors`);
      assert.ok(logged.length >= 1, board.output());

      const signalledAt = Date.now();
      board.child.kill('SIGTERM');
      const { code } = await exitedWithin(board, 15_000);
      assert.equal(code, 0, board.output());
      assert.ok(Date.now() - signalledAt < 1000 + 8000, board.output());
    } finally {
      board.child.kill('SIGKILL');
    }
  });
});
