import { before } from 'node:test';
import type { QueueEvents } from 'bullmq';
import { createHttpApp } from '../../src/http/http-app.js';
import { JOB_NAMES, type JobName } from '../../src/jobs/contracts.js';
import type { Queues } from '../../src/queues/queues.js';
import { listen, type TestServer } from './http-server.js';
import { suiteEnvironment, type SuiteEnvironment } from './suite-environment.js';

export interface StartedBoard {
  /** Every job's queue, as the board shows them. */
  queues: Queues;
  /** The worker queue's events (echo unless `worker` names another); a worker pool of concurrency 1 runs its jobs. */
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
 * of its own, and a worker (echo unless `worker` names another queue); started before the suite's tests, closed after them.
 */
export function boardServer(
  label: string,
  board: {
    user: string;
    password: string;
    jobAttempts: number;
    viewer?: { user: string; password: string };
    /** The queue whose jobs the suite's worker runs (echo by default). */
    worker?: JobName;
    /** More settings (BOT_INSTANCES_DIR...) and the suite's folder, removed with it. */
    settings?: Record<string, string>;
    dir?: { remove: () => void };
  },
): BoardServer {
  const env = suiteEnvironment(
    label,
    {
      BOARD_AUTH: 'true',
      BOARD_USER: board.user,
      BOARD_PASSWORD: board.password,
      ...(board.viewer ? { BOARD_VIEWER_USER: board.viewer.user, BOARD_VIEWER_PASSWORD: board.viewer.password } : {}),
      JOB_ATTEMPTS: String(board.jobAttempts),
      ...board.settings,
    },
    board.dir ? { dir: board.dir } : {},
  );
  let running: StartedBoard | undefined;

  before(async () => {
    const harness = await env.startQueueHarness(board.worker ?? 'echo', { concurrency: 1, open: JOB_NAMES });
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
