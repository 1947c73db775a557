import { z } from 'zod';
import { PermanentJobError } from '../errors.js';

/**
 * The guard against a replaced bot database (a FreqTrade reset, a dry-run file swapped in, an
 * old copy restored): before a flow mirrors the file's deletions into its copy (bot-sync into
 * PostgreSQL, turso-push into the backup), it gathers what it found and asks `judgeReset`. A
 * suspected reset fails that bot's job for good (`ResetSuspectedError`) until an operator
 * accepts it, so a swapped file never silently wipes a bot's history.
 */

/** How an accepted reset treats the old rows: kept as an archived epoch of the bot, or deleted. */
export const acceptResetSchema = z.enum(['archive', 'delete']);
export type AcceptReset = z.infer<typeof acceptResetSchema>;

/** `--accept-reset` (bare: archive, the choice that loses nothing) or `--accept-reset=archive|delete`. */
export function acceptResetFromCli(value: string | boolean | undefined): AcceptReset | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 'archive';
  const parsed = acceptResetSchema.safeParse(value);
  if (!parsed.success) throw new Error(`--accept-reset=${value}: expected archive or delete`);
  return parsed.data;
}

/** One table of the copy: the rows it holds for the bot, and how many of them would be deleted. */
export interface TableDeletions {
  table: string;
  held: number;
  deleting: number;
}

/** What a flow found about the file it is about to mirror. */
export interface ResetEvidence {
  /** The file's identity (device and inode) at the last good run and now, when both are known. */
  identity?: { before: string; now: string };
  /** The bot's first trades that the file now holds with other contents, described. */
  firstTradesChanged: readonly string[];
  tables: readonly TableDeletions[];
}

export interface ResetVerdict {
  suspected: boolean;
  /** What was found, in words, for the message and the dry-run report. */
  findings: string[];
}

/**
 * A reset is suspected when the bot's first trades changed (another history under the same
 * ids), when more than `ratio` (DELETE_GUARD_RATIO) of a table's rows would be deleted, or when
 * the file is another file than last time and rows would be deleted. A file moved or copied
 * alone (new identity, nothing deleted), and the few deletions FreqTrade makes itself, pass.
 */
export function judgeReset(evidence: ResetEvidence, ratio: number): ResetVerdict {
  const findings: string[] = [];
  let suspected = false;
  const identityChanged = evidence.identity !== undefined && evidence.identity.before !== evidence.identity.now;
  const deleting = evidence.tables.some((t) => t.deleting > 0);
  if (identityChanged) {
    findings.push(
      `the file is another file than at the last run (${evidence.identity!.before} -> ${evidence.identity!.now})`,
    );
    if (deleting) suspected = true;
  }
  if (evidence.firstTradesChanged.length > 0) {
    findings.push(`the bot's first trades changed: ${evidence.firstTradesChanged.join('; ')}`);
    suspected = true;
  }
  for (const t of evidence.tables) {
    if (t.held === 0 || t.deleting === 0) continue;
    const share = t.deleting / t.held;
    const over = share > ratio;
    findings.push(
      `${t.deleting} of ${t.held} ${t.table} (${(share * 100).toFixed(1)}%) would be deleted` +
        (over ? `, above DELETE_GUARD_RATIO ${ratio}` : ''),
    );
    if (over) suspected = true;
  }
  return { suspected, findings };
}

/** A suspected reset: permanent (a retry finds the same file), naming the bot, the findings and the way out. */
export class ResetSuspectedError extends PermanentJobError {
  constructor(
    message: string,
    readonly findings: readonly string[],
  ) {
    super(message);
    this.name = 'ResetSuspectedError';
  }
}

/**
 * The refusal: `job` is the command that accepts the reset (`bot-sync`, `turso-push`), `choices`
 * what each `--accept-reset=` value does in that flow.
 */
export function resetRefusal(options: {
  bot: string;
  file: string;
  job: string;
  verdict: ResetVerdict;
  choices: ReadonlyArray<{ value: AcceptReset; meaning: string }>;
}): ResetSuspectedError {
  const { bot, file, job, verdict, choices } = options;
  const how = choices
    .map((c) => `\`ctp-etl run ${job} --bot ${bot} --accept-reset=${c.value}\` (${c.meaning})`)
    .join(' or ');
  return new ResetSuspectedError(
    `bot ${bot}: ${file} looks replaced (a FreqTrade reset, a dry-run file swapped in, or an old copy restored): ` +
      `${verdict.findings.join('; ')}. Nothing was written. If this is meant, accept it: ${how}; ` +
      `\`--dry-run\` shows what would change`,
    verdict.findings,
  );
}
