import type { CliEnv, CliJobOptions } from '../jobs/job.js';
import { jobDefinition, type JobName } from '../jobs/registry.js';

/** The payloads a `run` or `enqueue` command line stands for. */
export async function payloadsFromCli(name: JobName, options: CliJobOptions, env: CliEnv): Promise<unknown[]> {
  const definition = jobDefinition(name);
  if (definition.fromCli) return definition.fromCli(options, env);
  return [parseJsonOption(options.json)];
}

export function parseJsonOption(json: string | undefined): unknown {
  if (json === undefined) return {};
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    throw new Error(`--json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
