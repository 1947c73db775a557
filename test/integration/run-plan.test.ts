import assert from 'node:assert/strict';
import { statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { addTrades } from '../../scripts/freqtrade/generate-bot-db.js';
import { WINDOW_RULES } from '../../src/bots/change-window.js';
import { dryRunBot } from '../../src/bot-sync/dry-run.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { pushBot } from '../../src/turso/push-bot.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { FreqtradeMutator } from '../../scripts/freqtrade/mutations.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { createTestBot, libsqlTables, sqliteTables, type TestBot } from '../helpers/turso-bots.js';

/**
 * bot-sync and turso-push follow one run plan (src/bots/run-plan.ts): after the same change to a
 * bot's file, both read nothing, or the change windows, or every row for the same reason, and
 * both copies (PostgreSQL, the Turso target) equal the file.
 */
describe('run plan: bot-sync and turso-push read a changed file the same way, for the same reason', () => {
  const tracker = failureTracker();
  const dir = tempDir('run-plan');
  let env: TestEnvironment;
  let bot: TestBot;

  before(async () => {
    env = await createTestEnvironment('run_plan', {
      BOT_INSTANCES_DIR: path.join(dir.path, 'bots'),
      TURSO_FILE_DIR: path.join(dir.path, 'targets'),
      FULL_COMPARE_INTERVAL: '1h',
      // Dates scanned on every run: the bot's latest date, read whole, is what tells its newest rows deleted.
      SYNC_DATE_SCAN_ROWS: '20000',
    });
    bot = await createTestBot(dir.path, 'planned', {
      trades: 80,
      version: 'S13',
      seed: 12,
      openShare: 0.1,
      wal: false,
    });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  /** What a sync and then a push read, each as it reports it: 'nothing', 'windows' or 'every row: <reason>'. */
  async function syncAndPush(): Promise<{ sync: string; push: string }> {
    // A file written just now is dated back past the fingerprint's racy interval, so that the
    // next run, the file unchanged, trusts its fingerprint.
    if (Date.now() - statSync(bot.dbPath).mtimeMs < 5_000) {
      const aged = new Date(Date.now() - 10_000);
      utimesSync(bot.dbPath, aged, aged);
    }
    const context = recordingContext(env.runtime);
    const synced = await syncBot(context, bot.name);
    const sync =
      synced.skipped === 'unchanged'
        ? 'nothing'
        : synced.fullCompare !== undefined
          ? `every row: ${synced.fullCompare}`
          : context.lines.some((l) => l.includes(': change windows since'))
            ? 'windows'
            : `unreported: ${context.lines.join(' | ')}`;
    const lines: string[] = [];
    const pushed = await pushBot({
      config: env.config,
      pg: env.runtime.pg,
      instance: bot.name,
      signal: new AbortController().signal,
      log: async (line) => void lines.push(line),
      progress: async () => undefined,
    });
    const everyRow = lines.find((l) => l.startsWith('every row compared with the records: '));
    const push = lines.some((l) => l.includes('unchanged since the last push'))
      ? 'nothing'
      : everyRow !== undefined
        ? `every row: ${everyRow.slice('every row compared with the records: '.length)}`
        : pushed.windows !== undefined
          ? 'windows'
          : `unreported: ${lines.join(' | ')}`;
    // Each job.log line is a Redis round trip: a windowed push tells its windows, tables and writes in one.
    if (push === 'windows') assert.equal(lines.length, 1, `a windowed push's log: ${lines.join(' | ')}`);
    const plan = await dryRunBot(recordingContext(env.runtime), bot.name);
    const left = [plan.trades, plan.orders].flatMap((t) => [t.inserted.count, t.updated.count, t.deleted.count]);
    assert.deepEqual(left, [0, 0, 0, 0, 0, 0], 'PostgreSQL equals the file');
    const source = sqliteTables(bot.dbPath);
    assert.deepEqual(await libsqlTables(bot.targetUrl, source.keys()), source, 'the Turso copy equals the file');
    return { sync, push };
  }

  /** Runs a write on the bot's file, as FreqTrade or an operator would. */
  function write(change: (db: Database.Database) => void): void {
    const db = new Database(bot.dbPath);
    db.pragma('foreign_keys = OFF'); // as FreqTrade (SQLAlchemy) leaves them
    try {
      change(db);
    } finally {
      db.close();
    }
  }

  it('unchanged, then windows, then every row because of the schema, the bot’s clock ahead, its latest rows gone', async () => {
    await syncAndPush(); // the first copies
    assert.deepEqual(await syncAndPush(), { sync: 'nothing', push: 'nothing' }, 'the file unchanged');

    const mutator = new FreqtradeMutator(bot.dbPath, 12);
    try {
      assert.ok(mutator.apply('open'), 'a trade opened');
      assert.deepEqual(await syncAndPush(), { sync: 'windows', push: 'windows' }, 'a trade opened');

      assert.ok(mutator.apply('rebuild'), 'a table rebuilt');
      const rebuilt = 'every row: the schema changed (a FreqTrade upgrade, or a table rebuilt by its migrations)';
      assert.deepEqual(await syncAndPush(), { sync: rebuilt, push: rebuilt }, 'a table rebuilt by a migration');
    } finally {
      mutator.close();
    }

    // A trade dated tomorrow (the bot's clock a day ahead), with its orders, custom data and lock.
    const before = new Map<string, number>();
    write((db) => {
      const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      for (const table of Object.keys(WINDOW_RULES).filter((t) => tables.some((r) => r.name === t)))
        before.set(table, db.prepare<[], { id: number }>(`SELECT coalesce(max(id), 0) AS id FROM ${table}`).get()!.id);
      const tomorrow = (Date.now() + 86_400_000) * 1000;
      addTrades(db, {
        first: before.get('trades')! + 1,
        count: 1,
        seed: 12,
        openShare: 1,
        startUs: tomorrow,
        spacingUs: 1000,
        notAfterUs: tomorrow,
      });
    });
    const ahead = "every row: the bot's dates run ahead of this host's clock by more than SYNC_WINDOW_MARGIN";
    assert.deepEqual(await syncAndPush(), { sync: ahead, push: ahead }, "the bot's clock a day ahead");

    write((db) => {
      for (const [table, id] of before) db.prepare(`DELETE FROM ${table} WHERE id > ?`).run(id);
    });
    const back =
      "every row: the bot's latest date went back since the last run (its clock, or its newest rows deleted)";
    assert.deepEqual(await syncAndPush(), { sync: back, push: back }, 'the newest rows deleted');
    assert.deepEqual(await syncAndPush(), { sync: 'nothing', push: 'nothing' }, 'unchanged again');
  });
});
