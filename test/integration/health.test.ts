import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import type { HealthReport } from '../../src/http/health.js';
import { createHttpApp } from '../../src/http/http-app.js';
import { closeQueues, createQueues, type Queues } from '../../src/queues/queues.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { cliEnv, listeningPort, startCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { listen } from '../helpers/http-server.js';
import { TEST_MONGO_URL, testConfig } from '../helpers/test-config.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

// Nothing listens on port 1; the passwords must never show in a report.
const CLOSED_PG = 'postgres://postgres:pg-secret-91b2@127.0.0.1:1/postgres';
const CLOSED_REDIS = 'redis://:redis-secret-55c0@127.0.0.1:1';
const CLOSED_MONGO = 'mongodb://reader:mongo-secret-0d7e@127.0.0.1:1/ctp';
const SECRETS = /pg-secret|redis-secret|mongo-secret/;

describe('/health', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let queues: Queues;
  const mongoDatabase = `health_${process.pid}`;
  const runtimes: Runtime[] = [];

  before(async () => {
    env = await createTestEnvironment('health', { MONGO_URL: `${TEST_MONGO_URL}${mongoDatabase}` });
    queues = createQueues(env.config, env.runtime.redis('producer'), ['echo']);
  });

  after(async () => {
    await Promise.all(runtimes.map((runtime) => runtime.close()));
    await closeQueues(queues);
    const client = new MongoClient(TEST_MONGO_URL);
    await client
      .db(mongoDatabase)
      .dropDatabase()
      .finally(() => client.close());
    await env.cleanup({ keep: tracker.failed });
  });

  /** GET /health from an app whose dependencies point where `overrides` say. */
  async function health(
    overrides: Record<string, string>,
    withMongo: boolean,
  ): Promise<{ status: number; text: string; report: HealthReport }> {
    const config = testConfig(env.name, overrides);
    const runtime = new Runtime(config);
    runtimes.push(runtime);
    const app = createHttpApp({
      config,
      queues,
      health: {
        pg: runtime.pg,
        redis: runtime.redis('producer'),
        timeoutMs: 1500,
        ...(withMongo ? { mongo: runtime.mongo } : {}),
      },
    });
    const server = await listen(app);
    try {
      const response = await fetch(`${server.url}/health`);
      const text = await response.text();
      return { status: response.status, text, report: JSON.parse(text) as HealthReport };
    } finally {
      await server.close();
    }
  }

  it('answers 200 with every dependency up, each with its latency', async () => {
    const { status, report } = await health({ MONGO_URL: env.config.MONGO_URL! }, true);
    assert.equal(status, 200, JSON.stringify(report));
    assert.equal(report.status, 'ok');
    assert.deepEqual(Object.keys(report.dependencies).sort(), ['mongodb', 'postgres', 'redis']);
    for (const [name, dependency] of Object.entries(report.dependencies)) {
      assert.equal(dependency.status, 'ok', name);
      assert.ok(dependency.latencyMs >= 0 && dependency.latencyMs < 1500, `${name} latency ${dependency.latencyMs}`);
      assert.equal(dependency.error, undefined);
    }
    assert.equal(report.dependencies.postgres?.required, true);
    assert.equal(report.dependencies.mongodb?.required, false);
  });

  it('leaves MongoDB out when it is not configured', async () => {
    const { status, report } = await health({}, false);
    assert.equal(status, 200);
    assert.deepEqual(Object.keys(report.dependencies).sort(), ['postgres', 'redis']);
  });

  it('answers 503 when PostgreSQL is down, without its password', async () => {
    const { status, text, report } = await health({ DATABASE_URL: CLOSED_PG }, false);
    assert.equal(status, 503);
    assert.equal(report.status, 'down');
    assert.equal(report.dependencies.postgres?.status, 'down');
    assert.match(report.dependencies.postgres?.error ?? '', /ECONNREFUSED/);
    assert.equal(report.dependencies.redis?.status, 'ok');
    assert.doesNotMatch(text, SECRETS);
  });

  it('answers 503 when Redis is down, without its password', async () => {
    const { status, text, report } = await health({ REDIS_URL: CLOSED_REDIS }, false);
    assert.equal(status, 503);
    assert.equal(report.dependencies.redis?.status, 'down');
    assert.equal(report.dependencies.postgres?.status, 'ok');
    assert.doesNotMatch(text, SECRETS);
  });

  it('reports an unreachable MongoDB as degraded (200), since only some jobs need it', async () => {
    const { status, text, report } = await health({ MONGO_URL: CLOSED_MONGO }, true);
    assert.equal(status, 200);
    assert.equal(report.status, 'degraded');
    assert.equal(report.dependencies.mongodb?.status, 'down');
    assert.ok(report.dependencies.mongodb?.error);
    assert.doesNotMatch(text, SECRETS);
  });

  it('is served by `ctp-etl board` with MongoDB when MONGO_URL is set', async () => {
    const board = startCli(['board', '--port', '0'], cliEnv(env.config));
    try {
      const port = await listeningPort(board, 'board listening');
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      const report = (await response.json()) as HealthReport;
      assert.equal(response.status, 200);
      assert.equal(report.dependencies.mongodb?.status, 'ok');
    } finally {
      board.child.kill('SIGTERM');
      assert.equal((await board.exited).code, 0, board.output());
    }
  });
});
