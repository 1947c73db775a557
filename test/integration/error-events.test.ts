import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startOrClose, startWorkers } from '../../src/roles/roles.js';
import { createRedis } from '../../src/connections/redis.js';
import { enqueue } from '../../src/producers/enqueue.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { waitFor } from '../helpers/wait-for.js';

/** The value of `ctp_etl_error_events_total{source}` in a runtime's registry. */
async function errorEvents(runtime: Runtime, source: string): Promise<number> {
  const metric = await runtime.metrics.getSingleMetric('ctp_etl_error_events_total')?.get();
  return metric?.values.find((value) => value.labels.source === source)?.value ?? 0;
}

describe('error events and failed starts', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let queues: Queues;

  before(async () => {
    env = await createTestEnvironment('error_events');
    queues = createQueues(env.config, env.runtime.redis('producer'), ['echo']);
  });

  after(async () => {
    await closeQueues(queues);
    await env.cleanup({ keep: tracker.failed });
  });

  it('reports a connection made without the runtime to stderr, once per interval, instead of dropping its errors', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      lines.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    // A port nothing listens on: ioredis reports each failed connect as an error event and retries.
    const unreachable = createRedis({ ...env.config, REDIS_URL: 'redis://127.0.0.1:1' }, 'worker');
    try {
      await waitFor('the error on stderr', async () => lines.some((l) => l.startsWith('ctp-etl: redis error:')));
      await new Promise((resolve) => setTimeout(resolve, 1500)); // ioredis retries every 200-400 ms meanwhile
      const reported = lines.filter((l) => l.startsWith('ctp-etl: redis error:'));
      assert.equal(reported.length, 1, reported.join(''));
      assert.match(reported[0]!, /ECONNREFUSED/);
    } finally {
      process.stderr.write = write;
      unreachable.disconnect();
    }
  });

  it('counts an idle PostgreSQL client that loses its server, without crashing', async () => {
    const runtime = new Runtime(env.config);
    try {
      const { rows } = await runtime.pg.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      assert.equal(await errorEvents(runtime, 'postgres'), 0);
      await env.db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await waitFor('the pool error to be counted', async () => (await errorEvents(runtime, 'postgres')) > 0);
      assert.equal(await errorEvents(runtime, 'postgres'), 1, 'one lost connection, one error event');
      const { rows: again } = await runtime.pg.query<{ one: number }>('SELECT 1 AS one');
      assert.equal(again[0]?.one, 1, 'the pool goes on with a new connection');
    } finally {
      await runtime.close();
    }
  });

  it('a start that fails after the workers took a job closes them: the job is not left active to stall', async () => {
    const runtime = new Runtime(env.config);
    const job = await enqueue(queues, 'echo', { message: 'taken during a failed start', durationMs: 30_000 });
    const worker = runtime.redis('worker');
    await assert.rejects(
      startOrClose(runtime, async () => {
        await startWorkers(runtime, ['echo'], 1);
        await waitFor('the job to be taken', async () => (await job.getState()) === 'active');
        throw new Error('the next step failed');
      }),
      /the next step failed/,
    );
    assert.equal(await job.getState(), 'waiting', 'handed back for the next worker');
    const fresh = await queues.get('echo')?.getJob(job.id ?? '');
    assert.equal(fresh?.attemptsMade, 0);
    assert.equal(worker.status, 'end', "the role's Redis connection is closed");
  });
});
