import type { Command } from 'commander';
import { isJobName, JOB_NAMES, type JobName } from '../jobs/contracts.js';

/** The job options shared by `run` and `enqueue`; each job reads the ones it understands. */
export function withJobOptions(command: Command): Command {
  return command
    .argument('<job>', `job type: ${JOB_NAMES.join(', ')}`)
    .option('--bot <instance>', 'bot instance (bot-sync, turso-push, turso-restore)')
    .option('--all', 'every discovered bot (bot-sync, turso-push)')
    .option('--collection <name>', 'users or portfoliosnapshots (mongo-import)')
    .option('--file <path>', 'a mongoexport file instead of the live MongoDB (mongo-import)')
    .option('--to <path>', 'where to write (turso-restore)')
    .option(
      '--dry-run',
      'show per table what would be inserted, updated and deleted; write nothing (bot-sync, turso-push)',
    )
    .option(
      '--accept-reset [archive|delete]',
      'accept a replaced bot database: keep the old rows as an archived epoch (archive, the default) or delete them (bot-sync, turso-push)',
    )
    .option(
      '--full-compare',
      "compare every row, reading no change windows (bot-sync); with the target's, whatever the recorded state says (turso-push)",
    )
    .option('--json <payload>', 'the payload as JSON, for jobs without options of their own');
}

export function jobNameArgument(text: string): JobName {
  if (!isJobName(text)) throw new Error(`Unknown job "${text}"; known jobs: ${JOB_NAMES.join(', ')}`);
  return text;
}

/** A commander parser for a whole-number option (`--port`, `--concurrency`): names the flag when the value is not one. */
export function parsePositiveInt(flag: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${flag} expects a whole number, got "${text}"`);
    return value;
  };
}
