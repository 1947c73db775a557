import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Router } from 'express';
import type { Queues } from '../queues/queues.js';

export const BOARD_PATH = '/admin/queues';

/** Bull Board over every queue; operators retry, promote and clean jobs from it. */
export function boardRouter(queues: Queues): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: [...queues.values()].map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'ctp-etl' } },
  });
  return serverAdapter.getRouter() as Router;
}
