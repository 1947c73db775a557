import type { JobContext } from '../jobs/job.js';
import { jobDefinition, type JobName } from '../jobs/registry.js';
import { PermanentJobError } from '../errors.js';

/**
 * Validates a payload and runs its handler. An invalid payload is a permanent failure:
 * no retry can fix it (old jobs can carry old shapes).
 */
export async function runJob(name: JobName, data: unknown, ctx: JobContext): Promise<unknown> {
  const definition = jobDefinition(name);
  const parsed = definition.payload.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new PermanentJobError(`Invalid ${name} payload: ${problems.join('; ')}`);
  }
  return definition.handle(parsed.data, ctx);
}
