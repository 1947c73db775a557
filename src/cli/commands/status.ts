import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { errorMessage } from '../../errors.js';
import { maskUrlCredentials } from '../../secrets.js';
import {
  behindAfterSeconds,
  botSyncLag,
  lagDistribution,
  type BotSyncLag,
  type LagDistribution,
} from '../../monitoring/bot-sync-lag.js';
import { heldBots, type BotHold } from '../../bots/held-bots.js';
import { botAssignments, type BotAssignment } from '../../bots/host-claims.js';
import { queueDepths, type QueueDepth } from '../../monitoring/queue-depths.js';
import { recentFailures, type RecentFailure } from '../../monitoring/recent-failures.js';
import { allQueueNames } from '../../queues/host-routing.js';
import { openQueues } from '../../queues/queues.js';
import { Runtime } from '../../runtime/runtime.js';
import { formatSeconds, oneLine, textTable } from '../text-table.js';
import { parsePositiveInt } from '../options.js';

interface StatusReport {
  queues: QueueDepth[];
  recentFailures: RecentFailure[];
  bots: BotSyncLag[];
  /** The lag across the bots on disk: quantiles, and how many are behind (past twice SYNC_INTERVAL). */
  lag: LagDistribution;
  /** Bots refused until a new file or an operator clears them; their jobs are not enqueued meanwhile. */
  held: BotHold[];
  /** Bots an operator assigned to a host (`bots assign`), with the copies that are ignored. */
  assignments: BotAssignment[];
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('queue depths, recent failures, per-bot sync lag and held bots')
    .option('--json', 'print the report as JSON')
    .option('--failures <n>', 'how many recent failures to list', parsePositiveInt('--failures'), 10)
    .action(async (options: { json?: boolean; failures: number }) => {
      const runtime = new Runtime(loadConfig());
      try {
        const redis = await runtime.readyRedis('producer');
        const queues = openQueues(runtime, redis, await allQueueNames(runtime.config, runtime.pg), 'queues');
        const notMigrated = (error: unknown): never => {
          throw syncStateError(runtime.config.DATABASE_URL, error);
        };
        // The sync lag first: on an unmigrated schema its error names the table every install has.
        const bots = await botSyncLag(runtime.pg).catch(notMigrated);
        const [depths, failures, held, assignments] = await Promise.all([
          queueDepths(queues),
          recentFailures(queues, options.failures),
          heldBots(runtime.pg, runtime.config).catch(notMigrated),
          botAssignments(runtime.pg).catch(notMigrated),
        ]);
        const lag = lagDistribution(bots, behindAfterSeconds(runtime.config.SYNC_INTERVAL));
        const report: StatusReport = { queues: depths, recentFailures: failures, bots, lag, held, assignments };
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderStatus(report)}\n`);
      } finally {
        await runtime.close();
      }
    });
}

/** PostgreSQL's codes for a missing table or schema: only then is `migrate` the fix. */
const NOT_MIGRATED = new Set(['42P01', '3F000']);

function syncStateError(databaseUrl: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const hint =
    typeof code === 'string' && NOT_MIGRATED.has(code)
      ? ' (has `ctp-etl migrate` run?)'
      : ` from ${maskUrlCredentials(databaseUrl)}`;
  return new Error(`Cannot read bot sync state${hint}: ${errorMessage(error)}`, { cause: error });
}

function renderStatus(report: StatusReport): string {
  const queues = textTable(
    ['queue', 'waiting', 'oldest waiting', 'active', 'delayed', 'failed', 'completed'],
    report.queues.map(({ queue, counts, oldestWaitingSeconds }) => [
      queue,
      String(counts.waiting + counts.prioritized + counts['waiting-children']),
      oldestWaitingSeconds === null ? '-' : formatSeconds(oldestWaitingSeconds),
      String(counts.active),
      String(counts.delayed),
      String(counts.failed),
      String(counts.completed),
    ]),
  );
  const failures = textTable(
    ['failed at', 'queue', 'job', 'attempts', 'reason'],
    report.recentFailures.map((failure) => [
      failure.failedAt?.toISOString() ?? '-',
      failure.queue,
      `${oneLine(failure.name, 40)} (#${failure.jobId ?? '?'})`,
      String(failure.attempts),
      oneLine(failure.failedReason),
    ]),
    'none',
  );
  const bots = textTable(
    ['bot', 'lag', 'last success', 'last error'],
    report.bots.map((bot) => [
      bot.missingSince ? `${bot.instance} (missing)` : bot.instance,
      formatSeconds(bot.lagSeconds),
      bot.lastSuccessAt?.toISOString() ?? 'never',
      failingSinceSuccess(bot)
        ? `${bot.lastErrorAt?.toISOString() ?? ''} ${oneLine(bot.lastError ?? '', 60)}`.trim()
        : '',
    ]),
    'no bots registered yet',
  );
  const held = textTable(
    ['bot', 'job', 'reason', 'since', 'refusal'],
    report.held.map((hold) => [
      hold.instance,
      hold.job,
      hold.reason,
      hold.heldAt?.toISOString() ?? '-',
      oneLine(hold.message, 200),
    ]),
    'none',
  );
  let text = `Queues\n${queues}\n\nRecent failures\n${failures}\n\nBot sync lag${lagLine(report.lag)}\n${bots}\n\nHeld bots (nothing enqueued for them)\n${held}`;
  if (report.assignments.length > 0) {
    const assigned = textTable(
      ['bot', 'host', 'assigned by', 'at', 'ignored copies'],
      report.assignments.map((a) => [
        a.instance,
        a.host,
        a.assignedBy,
        a.assignedAt.toISOString(),
        a.ignored.map((c) => `${c.host} (${c.dbPath})`).join(', ') || '-',
      ]),
    );
    text += `\n\nAssigned bots (ctp-etl bots assign)\n${assigned}`;
  }
  return text;
}

/** `: 2 bots, p50 1m 30s, p95 2h 0m, max 2h 0m; 1 behind (lag over 10m 0s)`, or nothing without bots. */
function lagLine(lag: LagDistribution): string {
  if (lag.bots === 0) return '';
  const seconds = (value: number | null): string => (value === null ? '-' : formatSeconds(value));
  return (
    `: ${lag.bots} bot${lag.bots === 1 ? '' : 's'}, p50 ${seconds(lag.p50Seconds)}, p95 ${seconds(lag.p95Seconds)}, ` +
    `max ${seconds(lag.maxSeconds)}; ${lag.behind} behind (lag over ${formatSeconds(lag.behindAfterSeconds)}, twice SYNC_INTERVAL)`
  );
}

/** An error an operator still has to look at: none since, or newer than, the last success. */
function failingSinceSuccess(bot: BotSyncLag): boolean {
  if (!bot.lastError) return false;
  if (!bot.lastSuccessAt || !bot.lastErrorAt) return true;
  return bot.lastErrorAt > bot.lastSuccessAt;
}
