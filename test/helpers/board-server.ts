import type { QueueEvents } from 'bullmq';
import { createHttpApp } from '../../src/http/http-app.js';
import { JOB_NAMES } from '../../src/jobs/contracts.js';
import type { Queues } from '../../src/queues/queues.js';
import { listen, type TestServer } from './http-server.js';
import { startQueueHarness } from './queue-harness.js';
import { createTestEnvironment, type TestEnvironment } from './test-runtime.js';

export interface BoardServer {
  env: TestEnvironment;
  /** Every job's queue, as the board shows them. */
  queues: Queues;
  /** The echo queue's events; a worker pool of concurrency 1 runs its jobs. */
  events: QueueEvents;
  server: TestServer;
  /** Closes the server, the worker and the queues, then the environment (kept if `keep`). */
  stop(options: { keep: boolean }): Promise<void>;
}

/** The HTTP app with the board behind Basic auth, on an environment of its own, and an echo worker. */
export async function startBoardServer(
  label: string,
  board: { user: string; password: string; jobAttempts: number },
): Promise<BoardServer> {
  const env = await createTestEnvironment(label, {
    BOARD_AUTH: 'true',
    BOARD_USER: board.user,
    BOARD_PASSWORD: board.password,
    JOB_ATTEMPTS: String(board.jobAttempts),
  });
  const harness = await startQueueHarness(env.runtime, 'echo', { concurrency: 1, open: JOB_NAMES });
  const health = { pg: env.runtime.pg, redis: env.runtime.redis('producer') };
  const server = await listen(createHttpApp({ config: env.config, queues: harness.queues, health }));
  return {
    env,
    queues: harness.queues,
    events: harness.events,
    server,
    async stop(options) {
      await server.close();
      await harness.stop();
      await env.cleanup(options);
    },
  };
}
