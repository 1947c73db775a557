import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Router } from 'express';
import { jobContract } from '../jobs/contracts.js';
import { jobOfQueue } from '../queues/host-routing.js';
import type { Queues } from '../queues/queues.js';

export const BOARD_PATH = '/admin/queues';

/**
 * Bull Board over every queue; operators retry, promote and clean jobs from it. `readOnly`: the
 * viewer's board, in Bull Board's read-only mode (no action buttons, its write routes refuse).
 */
export function boardRouter(queues: Queues, options: { readOnly: boolean } = { readOnly: false }): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  const adapters = [...queues].map(([name, queue]) => {
    const adapter = new BullMQAdapter(queue, { readOnlyMode: options.readOnly });
    adapter.setFormatter('name', (job: { name?: string; data?: unknown }) => readableJobName(name, job));
    return adapter;
  });
  createBullBoard({ queues: adapters, serverAdapter, options: { uiConfig: { boardTitle: 'ctp-etl' } } });
  return serverAdapter.getRouter() as Router;
}

/**
 * The producer names each job by its contract's title (`bot-sync bot-0007`). Jobs added
 * another way (a scheduler template, a script using BullMQ directly) may carry only the job
 * type: the title is then worked out from the payload, so the board still says which bot.
 */
function readableJobName(queue: string, job: { name?: string; data?: unknown }): string {
  if (job.name && job.name !== queue) return job.name;
  const jobName = jobOfQueue(queue);
  if (jobName === undefined) return job.name ?? queue;
  const contract = jobContract(jobName);
  const parsed = contract.payload.safeParse(job.data);
  return parsed.success ? contract.title(parsed.data) : queue;
}
