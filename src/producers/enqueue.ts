import type { Job, JobsOptions } from 'bullmq';
import { jobContract, type JobName, type PayloadOf } from '../jobs/contracts.js';
import type { Queues } from '../queues/queues.js';

/**
 * Puts one job on its queue, typed by the job map. The payload is validated here too, so a
 * producer learns of a bad payload at once instead of from a failed job later.
 */
export async function enqueue<N extends JobName>(
  queues: Queues,
  name: N,
  payload: PayloadOf<N>,
  options: JobsOptions = {},
  /** Another queue of the job: a host's (`bot-sync-<host>`, see routeJob). */
  queueName: string = name,
): Promise<Job> {
  const contract = jobContract(name);
  const parsed = contract.payload.safeParse(payload);
  if (!parsed.success) {
    throw new Error(
      `Invalid ${name} payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  const queue = queues.get(queueName);
  if (!queue) throw new Error(`No queue ${queueName} for job ${name} in this process`);
  const title = contract.title(parsed.data);
  return queue.add(title, parsed.data as object, options);
}
