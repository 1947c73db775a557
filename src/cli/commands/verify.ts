import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../../config.js';
import { assertInstanceName } from '../../bots/bot-instances.js';
import { Runtime } from '../../runtime/runtime.js';
import { verifyBots, type BotCheck } from '../../verify/verify-bots.js';
import { activeBots } from '../../bots/bot-registry.js';
import { verifyCollection, type CollectionCheck } from '../../verify/verify-mongo.js';
import { verifyTurso, type TursoCheck } from '../../verify/verify-turso.js';
import { DEFAULT_SHOWN_DIFFERENCES, describeDifference, type ValueDifference } from '../../verify/differences.js';
import { oneLine, textTable } from '../text-table.js';

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`--show-differences: ${text} is not a count (0, 1, 2, ...)`);
  return n;
}

interface VerifyOptions {
  bot?: string[];
  usersFile?: string;
  snapshotsFile?: string;
  bots: boolean;
  mongo: boolean;
  turso: boolean;
  json?: boolean;
  showDifferences: number;
}

interface VerifyReport {
  ok: boolean;
  bots: BotCheck[];
  mongo: CollectionCheck[];
  /** Per bot with a Turso backup: its SQLite against the Turso copy, every table. */
  turso: TursoCheck[];
  /** The first differing values over all bots (bot, table, key, column, both values) and how many in all. */
  differences: { total: number; first: Array<ValueDifference & { bot: string }> };
  /** What was not checked, and why (no MONGO_URL and no export files, ...). */
  skipped: string[];
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description(
      'cutover check: per bot, every value of SQLite trades and orders against PostgreSQL, its registry row against its config.json, and every table against its Turso backup; Mongo users and snapshots (live or export files) against PostgreSQL field by field mapped as the import maps them. Exit 1 on any mismatch',
    )
    .option('--bot <instance...>', 'only these bots (default: every registered bot that is not missing)')
    .option('--users-file <path>', 'compare users with this mongoexport file instead of live MongoDB')
    .option('--snapshots-file <path>', 'compare portfolio snapshots with this mongoexport file instead of live MongoDB')
    .option('--no-bots', 'skip the bots')
    .option('--no-mongo', 'skip MongoDB')
    .option('--no-turso', "skip the bots' Turso backups")
    .option('--json', 'print the report as JSON')
    .option(
      '--show-differences <n>',
      `how many differing values to name (all are counted; default ${DEFAULT_SHOWN_DIFFERENCES})`,
      parseCount,
      DEFAULT_SHOWN_DIFFERENCES,
    )
    .action(async (options: VerifyOptions) => {
      const runtime = new Runtime(loadConfig());
      try {
        const report = await buildReport(runtime, options);
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${render(report)}\n`);
        if (!report.ok) process.exitCode = 1;
      } finally {
        await runtime.close();
      }
    });
}

async function buildReport(runtime: Runtime, options: VerifyOptions): Promise<VerifyReport> {
  const { config, pg } = runtime;
  const skipped: string[] = [];
  const only = options.bot?.map(assertInstanceName);
  const bots = options.bots ? await verifyBots(config, pg, only, options.showDifferences) : [];
  if (!options.bots) skipped.push('bots (--no-bots)');
  let turso: TursoCheck[] = [];
  // The backups are the bots' third store: --no-bots leaves them out too.
  if (options.bots && options.turso) {
    const checked = await verifyTurso(
      config,
      only && only.length > 0 ? only : await activeBots(pg),
      options.showDifferences,
    );
    turso = checked.checks;
    skipped.push(...checked.skipped);
  } else if (options.bots) {
    skipped.push('Turso backups (--no-turso)');
  }
  const mongo: CollectionCheck[] = [];
  if (options.mongo) {
    for (const [collection, file] of [
      ['users', options.usersFile],
      ['portfoliosnapshots', options.snapshotsFile],
    ] as const) {
      if (file !== undefined)
        mongo.push(await verifyCollection(config, pg, collection, { file }, options.showDifferences));
      else if (config.MONGO_URL)
        mongo.push(await verifyCollection(config, pg, collection, { mongo: runtime.mongo }, options.showDifferences));
      else skipped.push(`${collection} (no MONGO_URL and no --${collection === 'users' ? 'users' : 'snapshots'}-file)`);
    }
  } else {
    skipped.push('MongoDB (--no-mongo)');
  }
  const ok = bots.every((b) => b.ok) && mongo.every((m) => m.ok) && turso.every((t) => t.ok);
  const differences = {
    total: bots.reduce((sum, b) => sum + (b.differences?.total ?? 0), 0),
    first: bots
      .flatMap((b) => (b.differences?.first ?? []).map((d) => ({ bot: b.bot, ...d })))
      .slice(0, options.showDifferences),
  };
  return { ok, bots, differences, mongo, turso, skipped };
}

const mark = (ok: boolean): string => (ok ? 'ok' : 'MISMATCH');

/** The bot's other tables' rows (pairlocks, custom data, wallet history, key-value store) in all, SQLite/PostgreSQL. */
function otherCounts(b: BotCheck): string {
  const tables = Object.values(b.otherTables ?? {});
  const sum = (side: 'source' | 'target') => tables.reduce((n, t) => n + t[side].count, 0);
  return `${sum('source')}/${sum('target')}`;
}

/** One line per difference shown, then how many there are in all when some are not shown. */
function differenceLines(label: string, shown: readonly ValueDifference[] = [], total = 0): string[] {
  const lines = shown.map((d) => `${label}: ${describeDifference(d)}`);
  if (total > shown.length) lines.push(`${label}: ${total} differences in all, ${total - shown.length} not shown`);
  return lines;
}

function render(report: VerifyReport): string {
  const parts: string[] = [];
  if (report.bots.length > 0) {
    parts.push(
      textTable(
        [
          'bot',
          'trades sqlite',
          'trades pg',
          'orders sqlite',
          'orders pg',
          'other sqlite/pg',
          'values',
          'registry',
          'result',
        ],
        report.bots.map((b) =>
          b.error !== undefined
            ? [b.bot, '-', '-', '-', '-', '-', '-', '-', `ERROR ${oneLine(b.error, 100)}`]
            : [
                b.bot,
                String(b.trades?.source.count),
                String(b.trades?.target.count),
                String(b.orders?.source.count) + (b.rejectedOrders ? ` (+${b.rejectedOrders} rejected)` : ''),
                String(b.orders?.target.count),
                otherCounts(b),
                b.differences?.total ? `${b.differences.total} differ` : 'equal',
                b.registry?.differences ? `${b.registry.differences} differ` : 'equal',
                mark(b.ok) +
                  (b.rejectedRows && (b.rejectedRows.source > 0 || b.rejectedRows.recorded > 0)
                    ? ` (${b.rejectedRows.source} unusable source rows, ${b.rejectedRows.recorded} in rejects)`
                    : ''),
              ],
        ),
      ),
    );
  }
  if (report.differences.total > 0) {
    const { first, total } = report.differences;
    parts.push(
      [
        ...first.map((d) => `bot ${d.bot}: ${describeDifference(d)}`),
        `${total} value(s) differ${total > first.length ? ` (first ${first.length} shown; --show-differences N for more)` : ''}`,
      ].join('\n'),
    );
  }
  if (report.turso.length > 0) {
    parts.push(
      textTable(
        ['bot', 'store', 'table', 'rows sqlite', 'rows turso', 'checksums', 'result'],
        report.turso.flatMap((t) =>
          t.error !== undefined
            ? [[t.bot, `turso ${t.target ?? '-'}`, '-', '-', '-', '-', `ERROR ${oneLine(t.error, 100)}`]]
            : t.tables.map((table) => [
                t.bot,
                `turso ${t.target ?? '-'}`,
                table.table,
                String(table.source.count),
                table.target === undefined ? 'no table' : String(table.target.count),
                table.target?.checksum === table.source.checksum ? 'equal' : 'differ',
                mark(table.ok),
              ]),
        ),
      ),
    );
    const differences = report.turso.flatMap((t) =>
      differenceLines(`turso ${t.bot}`, t.differences?.first, t.differences?.total),
    );
    if (differences.length > 0) parts.push(differences.join('\n'));
  }
  if (report.mongo.length > 0) {
    parts.push(
      textTable(
        ['collection', 'source', 'documents', 'postgresql', 'rejected', 'result'],
        report.mongo.map((m) =>
          m.error !== undefined
            ? [m.collection, m.source, '-', '-', '-', `ERROR ${oneLine(m.error, 100)}`]
            : [m.collection, m.source, String(m.sourceCount), String(m.target), String(m.rejected), mark(m.ok)],
        ),
      ),
    );
    const differences = report.mongo.flatMap((m) => differenceLines(m.collection, m.differences, m.differenceTotal));
    if (differences.length > 0) parts.push(differences.join('\n'));
  }
  if (report.skipped.length > 0) parts.push(`not checked: ${report.skipped.join('; ')}`);
  parts.push(report.ok ? 'verify: everything matches' : 'verify: MISMATCH (see above)');
  return parts.join('\n\n');
}
