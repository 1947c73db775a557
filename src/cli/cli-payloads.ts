import type { CliEnv, CliJobOptions } from '../jobs/job.js';
import { jobContract, type JobName } from '../jobs/contracts.js';

/** The payloads a `run` or `enqueue` command line stands for. */
export async function payloadsFromCli(name: JobName, options: CliJobOptions, env: CliEnv): Promise<unknown[]> {
  const contract = jobContract(name);
  if (contract.fromCli) return contract.fromCli(options, env);
  return [parseJsonOption(options.json)];
}

function parseJsonOption(json: string | undefined): unknown {
  if (json === undefined) return {};
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    throw new Error(`--json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
