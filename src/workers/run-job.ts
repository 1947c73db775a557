import type { JobContext } from '../jobs/job.js';
import type { JobName } from '../jobs/contracts.js';
import { jobHandler } from '../jobs/handlers.js';
import { PermanentJobError } from '../errors.js';

/**
 * Validates a payload and runs its handler. An invalid payload is a permanent failure:
 * no retry can fix it (old jobs can carry old shapes).
 */
export async function runJob(name: JobName, data: unknown, ctx: JobContext): Promise<unknown> {
  const handler = jobHandler(name);
  const parsed = handler.contract.payload.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new PermanentJobError(`Invalid ${name} payload: ${problems.join('; ')}`);
  }
  return handler.handle(parsed.data, ctx);
}
