import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import type { CliJobOptions } from '../../jobs/job.js';
import { Runtime } from '../../runtime/runtime.js';
import { contextForLocalRun } from '../../workers/job-context.js';
import { runJob } from '../../workers/run-job.js';
import { payloadsFromCli } from '../cli-payloads.js';
import { jobNameArgument, withJobOptions } from '../options.js';

export function registerRun(program: Command): void {
  withJobOptions(program.command('run'))
    .description('run a job handler in this process, no queue (debugging, benchmarks); prints its result as JSON')
    .action(async (job: string, options: CliJobOptions) => {
      const name = jobNameArgument(job);
      const runtime = new Runtime(loadConfig());
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort());
      try {
        const payloads = await payloadsFromCli(name, options, { config: runtime.config, pg: runtime.pg });
        const ctx = contextForLocalRun(runtime, abort.signal);
        let failed = 0;
        for (const payload of payloads) {
          try {
            const result = await runJob(name, payload, ctx);
            process.stdout.write(`${JSON.stringify({ job: name, payload, result }, bigintSafe)}\n`);
          } catch (error) {
            failed += 1;
            const message = error instanceof Error ? error.message : String(error);
            process.stdout.write(`${JSON.stringify({ job: name, payload, error: message })}\n`);
          }
        }
        if (failed > 0) process.exitCode = 1;
      } finally {
        await runtime.close();
      }
    });
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
