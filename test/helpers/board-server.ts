import { before } from 'node:test';
import type { QueueEvents } from 'bullmq';
import { createHttpApp } from '../../src/http/http-app.js';
import { JOB_NAMES } from '../../src/jobs/contracts.js';
import type { Queues } from '../../src/queues/queues.js';
import { listen, type TestServer } from './http-server.js';
import { suiteEnvironment, type SuiteEnvironment } from './suite-environment.js';

export interface StartedBoard {
  /** Every job's queue, as the board shows them. */
  queues: Queues;
  /** The echo queue's events; a worker pool of concurrency 1 runs its jobs. */
  events: QueueEvents;
  server: TestServer;
}

export interface BoardServer {
  env: SuiteEnvironment;
  /** The board once the suite's before hook started it. */
  started(): StartedBoard;
}

/**
 * Call inside a describe(): the HTTP app with the board behind Basic auth (and a viewer login if given), on a suite environment
 * of its own, and an echo worker; started before the suite's tests, closed after them.
 */
export function boardServer(
  label: string,
  board: { user: string; password: string; jobAttempts: number; viewer?: { user: string; password: string } },
): BoardServer {
  const env = suiteEnvironment(label, {
    BOARD_AUTH: 'true',
    BOARD_USER: board.user,
    BOARD_PASSWORD: board.password,
    ...(board.viewer ? { BOARD_VIEWER_USER: board.viewer.user, BOARD_VIEWER_PASSWORD: board.viewer.password } : {}),
    JOB_ATTEMPTS: String(board.jobAttempts),
  });
  let running: StartedBoard | undefined;

  before(async () => {
    const harness = await env.startQueueHarness('echo', { concurrency: 1, open: JOB_NAMES });
    const health = { pg: env.runtime.pg, redis: env.runtime.redis('producer') };
    const server = await listen(createHttpApp({ config: env.config, queues: harness.queues, health }));
    env.closeFirst(() => server.close());
    running = { queues: harness.queues, events: harness.events, server };
  });

  return {
    env,
    started() {
      if (!running) throw new Error(`the board of ${label} is read before its suite's before hook ran`);
      return running;
    },
  };
}
