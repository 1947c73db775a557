import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { naiveUtc, random } from '../../scripts/freqtrade/trade-plan.js';
import Database from 'better-sqlite3';
import { ResetSuspectedError } from '../../src/bots/reset-guard.js';
import type { SchemaVersion } from '../../scripts/freqtrade/schemas.js';
import { dryRunBot } from '../../src/bot-sync/dry-run.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { pushBot, type PushResult } from '../../src/turso/push-bot.js';
import { compareBots } from '../helpers/bot-equality.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { botDbPath } from '../../scripts/freqtrade/fixtures.js';
import { FreqtradeMutator, type Mutation } from '../../scripts/freqtrade/mutations.js';
import { recordingContext } from '../helpers/job-context.js';
import { libsqlTables, sqliteTables } from '../helpers/turso-bots.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

/**
 * Change windows miss nothing: FreqTrade-like changes applied at random to generated databases of
 * several FreqTrade versions; after each sync PostgreSQL equals the source (a dry run, which
 * compares every row, finds nothing to do), and after each push the Turso copy (a libSQL file:
 * target) equals it table by table, except old closed trades edited in place (outside every
 * window), which are equal after the next full compare.
 */
/** S03 has no orders table yet (FreqTrade 2020.5); S06, S09 and S13 differ in their orders' and trades' columns. */
const VERSIONS: SchemaVersion[] = ['S03', 'S06', 'S09', 'S13'];
const ROUNDS = 10;
const MUTATIONS: Mutation[] = [
  'custom-data',
  'lock',
  'open',
  'open',
  'partial-exit',
  'close',
  'close',
  'cancel-order',
  'delete-trade',
  'dry-order-left-open',
  'fix-dry-orders',
  'fee-after-close',
  'backfill-precision',
  'delete-lock',
  'wallet',
  'key-value',
  'delete-other',
  'edit-old',
];

describe('change windows: bot-sync reads only what FreqTrade can have changed, and misses nothing', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  const dir = tempDir('change-windows');
  const bots = () => path.join(dir.path, 'bots');

  before(async () => {
    env = await createTestEnvironment('change_windows', {
      BOT_INSTANCES_DIR: bots(),
      TURSO_FILE_DIR: path.join(dir.path, 'targets'),
      FULL_COMPARE_INTERVAL: '1h',
      SYNC_BATCH_SIZE: '100',
      // These bots' dates scanned on every run (the tests of windows through indexes set 0 themselves).
      SYNC_DATE_SCAN_ROWS: '20000',
    });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  const ctx = () => recordingContext(env.runtime);

  const targetOf = (bot: string) => `file:${path.join(dir.path, 'targets', `${bot}.db`)}`;

  function enablePush(bot: string): void {
    mkdirSync(path.join(dir.path, 'targets'), { recursive: true });
    writeFileSync(
      path.join(bots(), bot, 'sync-config.json'),
      JSON.stringify({ tursoUrl: targetOf(bot), enabled: true }),
    );
  }

  const push = (bot: string, fullCompare = false): Promise<PushResult> =>
    pushBot({
      config: env.config,
      pg: env.runtime.pg,
      instance: bot,
      signal: new AbortController().signal,
      log: async () => undefined,
      progress: async () => undefined,
      fullCompare,
    });

  /** Tables whose rows differ between the source and its Turso copy, old trades edited outside the windows aside. */
  async function tursoDifferences(bot: string, file: string, outside: ReadonlySet<number>): Promise<string[]> {
    const source = sqliteTables(file);
    const target = await libsqlTables(targetOf(bot), source.keys());
    const differing: string[] = [];
    for (const [name, table] of source) {
      const idAt = table.columns.indexOf('id') + 1; // rows start with the rowid
      const rows = (t: { rows: Array<Array<string | null>> } | undefined) =>
        (t?.rows ?? [])
          .filter((r) => !(name === 'trades' && outside.has(Number(String(r[idAt]).slice(1)))))
          .map((r) => JSON.stringify(r.slice(1)))
          .sort();
      const ours = rows(table);
      const theirs = rows(target.get(name));
      if (ours.length !== theirs.length || ours.some((r, i) => r !== theirs[i])) differing.push(name);
    }
    return differing;
  }

  /** What a full compare would still change: trades updated (their keys), anything else. */
  async function differences(bot: string) {
    const plan = await dryRunBot(ctx(), bot);
    return {
      tradesUpdated: plan.trades.updated,
      others:
        plan.trades.inserted.count +
        plan.trades.deleted.count +
        plan.orders.inserted.count +
        plan.orders.updated.count +
        plan.orders.deleted.count,
      otherTables: Object.fromEntries(
        Object.entries(plan.otherTables)
          .map(([table, p]) => [table, p.inserted.count + p.updated.count + p.deleted.count] as const)
          .filter(([, n]) => n > 0),
      ),
    };
  }

  for (const [v, version] of VERSIONS.entries()) {
    it(`FreqTrade ${version}: every sync ends equal but for old trades edited in place, equal after a full compare`, async () => {
      const bot = `windows-${version.toLowerCase()}`;
      const file = botDbPath(bots(), bot);
      createBotDatabase(file, { trades: 300, version, seed: 40 + v, openShare: 0.1, wal: v % 2 === 0 });
      enablePush(bot);
      const mutator = new FreqtradeMutator(file, 40 + v);
      mutator.unfillPrecision(5); // as a FreqTrade upgrade leaves them, until its next start fills them
      await syncBot(ctx(), bot);
      await push(bot);
      const rng = random(900 + v);
      const outside = new Set<number>();
      let windowed = 0;
      let windowedPushes = 0;
      const outsidePush = new Set<number>();
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const rebuild = round === 6;
          const applied = [];
          for (let k = 0; k < 1 + Math.floor(rng() * 5); k++) {
            const done = mutator.apply(MUTATIONS[Math.floor(rng() * MUTATIONS.length)]!);
            if (done) applied.push(done);
          }
          if (rebuild) applied.push(mutator.apply('rebuild')!);
          for (const m of applied) if (m.kind === 'edit-old') [outside, outsidePush].forEach((s) => s.add(m.trade!));
          for (const m of applied)
            if (m.kind === 'delete-trade') [outside, outsidePush].forEach((s) => s.delete(m.trade!));
          const result = await syncBot(ctx(), bot);
          if (rebuild) assert.match(result.fullCompare ?? '', /schema changed/, 'a rebuilt table is compared whole');
          if (result.fullCompare === undefined && result.skipped === undefined) windowed += 1;
          else outside.clear(); // a full compare found them

          const diff = await differences(bot);
          const what = `${version} round ${round} (${applied.map((m) => m.kind).join(', ')})`;
          assert.equal(diff.others, 0, `${what}: nothing but old edited trades differs`);
          assert.deepEqual(diff.otherTables, {}, `${what}: the other tables equal the source`);
          assert.ok(
            diff.tradesUpdated.count <= outside.size && diff.tradesUpdated.sample.every((id) => outside.has(id)),
            `${what}: trades ${diff.tradesUpdated.sample.join(', ')} differ, edited outside the windows: ${[...outside].join(', ')}`,
          );
          const pushed = await push(bot);
          if (pushed.windows !== undefined) windowedPushes += 1;
          else outsidePush.clear();
          assert.deepEqual(
            await tursoDifferences(bot, file, outsidePush),
            [],
            `${what}: the Turso copy equals the source`,
          );

          if (version !== 'S03') {
            // Independently of the sync's own compare: the same keys on both sides.
            const keys = await compareBots(env.db.pool, bots(), [bot]);
            assert.deepEqual([keys.lost, keys.duplicated], [0, 0], `${what}: same keys`);
          }
        }
        assert.ok(windowed >= ROUNDS / 2, `most syncs read change windows (${windowed} of ${ROUNDS})`);
        assert.ok(windowedPushes >= ROUNDS / 2, `most pushes read change windows (${windowedPushes} of ${ROUNDS})`);
        // An edit outside the windows: found by the next full compare.
        const edited = mutator.apply('edit-old');
        assert.ok(edited, 'an old closed trade to edit');
        const windowedSync = await syncBot(ctx(), bot);
        assert.equal(windowedSync.fullCompare, undefined);
        assert.ok((await differences(bot)).tradesUpdated.sample.includes(edited.trade!), 'the window missed the edit');
        const full = await syncBot(ctx(), bot, { full: true });
        assert.equal(full.fullCompare, 'a full compare was asked for');
        assert.deepEqual(await differences(bot), {
          tradesUpdated: { count: 0, sample: [] },
          others: 0,
          otherTables: {},
        });
        const windowedPush = await push(bot);
        assert.ok(windowedPush.windows, 'the push read windows');
        assert.deepEqual(await tursoDifferences(bot, file, new Set()), ['trades'], 'the push window missed the edit');
        await push(bot, true);
        assert.deepEqual(await tursoDifferences(bot, file, new Set()), [], 'a full compare found it');
      } finally {
        mutator.close();
      }
    });
  }

  /**
   * FreqTrade's writes that change an old row and set no date of it (src/bots/change-window.ts
   * lists them, with where FreqTrade makes them): the first windowed sync and push after each
   * leave PostgreSQL and the Turso copy equal to the source.
   */
  const UNDATED: Array<{ write: Mutation; before?: (db: Database.Database, mutator: FreqtradeMutator) => void }> = [
    {
      // A closed trade's dry-run order still open, synced so; FreqTrade's next start closes it.
      write: 'fix-dry-orders',
      before: (db, mutator) => {
        const trade = db
          .prepare<[], { id: number }>('SELECT id FROM trades WHERE is_open = 0 AND id > 10 LIMIT 1')
          .get()!;
        assert.ok(mutator.leaveOrderOpen(trade.id) !== undefined, 'an order to leave open');
      },
    },
    { write: 'fee-after-close' },
    { write: 'backfill-precision', before: (_db, mutator) => assert.equal(mutator.unfillPrecision(3).length, 3) },
    {
      write: 'delete-lock',
      before: (db) => {
        db.prepare('UPDATE pairlocks SET active = 0').run();
        db.prepare(
          `INSERT INTO pairlocks (pair, side, reason, lock_time, lock_end_time, active)
           VALUES ('ETH/USDT', '*', 'cooldown', '2025-06-01 00:00:00.000000', '2025-06-01 01:00:00.000000', 0)`,
        ).run();
      },
    },
  ];

  for (const { write, before: setUp } of UNDATED) {
    it(`FreqTrade's ${write}, which sets no date of the row: the next windowed sync and push take it`, async () => {
      const bot = `undated-${write}`;
      const file = botDbPath(bots(), bot);
      createBotDatabase(file, { trades: 120, version: 'S13', seed: 77, openShare: 0.1, wal: false });
      enablePush(bot);
      const mutator = new FreqtradeMutator(file, 77);
      try {
        const db = new Database(file);
        try {
          setUp?.(db, mutator);
        } finally {
          db.close();
        }
        /** ft_is_open in PostgreSQL of the dry-run orders left open. */
        const dryOrders = async () =>
          (
            await env.db.pool.query<{ ft_is_open: boolean }>(
              `SELECT o.ft_is_open FROM orders o JOIN bots b ON b.id = o.bot_id
               WHERE b.instance_id = $1 AND o.order_id LIKE 'dry_run_%'`,
              [bot],
            )
          ).rows.map((r) => r.ft_is_open);
        await syncBot(ctx(), bot);
        await push(bot);
        if (write === 'fix-dry-orders') assert.deepEqual(await dryOrders(), [true], 'synced open');
        assert.ok(mutator.apply(write), `${write} changed a row`);
        const synced = await syncBot(ctx(), bot);
        assert.deepEqual([synced.fullCompare, synced.skipped], [undefined, undefined], 'the sync read windows');
        assert.deepEqual(
          await differences(bot),
          { tradesUpdated: { count: 0, sample: [] }, others: 0, otherTables: {} },
          'PostgreSQL equals the source',
        );
        if (write === 'fix-dry-orders') assert.deepEqual(await dryOrders(), [false], 'closed in PostgreSQL too');
        const pushed = await push(bot);
        assert.ok(pushed.windows, 'the push read windows');
        assert.deepEqual(await tursoDifferences(bot, file, new Set()), [], 'the Turso copy equals the source');
      } finally {
        mutator.close();
      }
    });
  }

  // The path of change-windows seed 141 (S06) that failed with "FOREIGN KEY constraint failed".
  it("a trade deleted after its partial exit (the highest order id), then a trade opened whose orders take its orders' ids: the windowed push stays exact", async () => {
    const bot = 'reused-order-id';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 120, version: 'S06', seed: 141, openShare: 0.1, wal: false });
    enablePush(bot);
    const mutator = new FreqtradeMutator(file, 141);
    const db = new Database(file);
    try {
      const lastOrder = () =>
        db
          .prepare<[], { id: number; trade: number }>('SELECT id, ft_trade_id AS trade FROM orders ORDER BY id DESC')
          .get()!;
      await push(bot);
      // Partial exits (the mutator's seeded picks) until one is of a trade below the newest: the
      // trade opened next gets a new id, so the deleted trade is a deletion, not a trade changed.
      const newest = db.prepare<[], { id: number }>('SELECT max(id) AS id FROM trades').get()!.id;
      let exit = mutator.apply('partial-exit');
      for (let tries = 0; exit?.trade === newest && tries < 10; tries++) exit = mutator.apply('partial-exit');
      assert.ok(exit && exit.trade! < newest, 'an open trade below the newest exited in part');
      const partial = lastOrder();
      assert.equal(partial.trade, exit.trade, "the exit's order has the highest id");
      await push(bot);
      // FreqTrade's delete of the trade (its orders, then the trade), then a new trade.
      const orderIds = (trade: number) =>
        db
          .prepare<[number], { id: number }>('SELECT id FROM orders WHERE ft_trade_id = ? ORDER BY id')
          .all(trade)
          .map((o) => o.id);
      const deleted = orderIds(exit.trade!);
      db.prepare('DELETE FROM orders WHERE ft_trade_id = ?').run(exit.trade);
      db.prepare('DELETE FROM trades WHERE id = ?').run(exit.trade);
      const opened = mutator.apply('open')!;
      const reused = orderIds(opened.trade!).filter((id) => deleted.includes(id));
      assert.ok(reused.length > 0, "the new trade's orders take ids of the deleted trade's orders");
      const pushed = await push(bot);
      assert.ok(pushed.windows, 'the push read windows');
      assert.deepEqual(await tursoDifferences(bot, file, new Set()), [], 'the Turso copy equals the source');
    } finally {
      db.close();
      mutator.close();
    }
  });

  it('a bot above SYNC_DATE_SCAN_ROWS: windows through indexes take what opens and closes, the next date scan (from the last) a fee fetched after the close', async () => {
    const bot = 'windows-by-index';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 150, version: 'S13', seed: 91, openShare: 0.1, wal: true });
    // Every bot is big here; a margin of 1 ms, so only a scan from the last date scan reaches the fee.
    const big = (interval: number) => ({
      ...ctx(),
      config: { ...env.config, SYNC_DATE_SCAN_ROWS: 0, SYNC_DATE_SCAN_INTERVAL: interval, SYNC_WINDOW_MARGIN: 1 },
    });
    await syncBot(big(3_600_000), bot);
    const mutator = new FreqtradeMutator(file, 91);
    try {
      const fee = mutator.apply('fee-after-close');
      assert.ok(fee?.trade !== undefined, 'a fee fetched after a close');
      assert.ok(
        mutator.apply('open') && mutator.apply('close') && mutator.apply('cancel-order'),
        'trades opened and closed',
      );
      const byIndex = await syncBot(big(3_600_000), bot);
      assert.deepEqual([byIndex.fullCompare, byIndex.skipped], [undefined, undefined], 'the sync read windows');
      assert.deepEqual(
        await differences(bot),
        { tradesUpdated: { count: 1, sample: [fee.trade] }, others: 1, otherTables: {} },
        'all taken but the fee (its trade and order), which only a date tells',
      );
      assert.ok(mutator.apply('open'), 'another trade opened');
      const scanned = await syncBot(big(0), bot);
      assert.deepEqual([scanned.fullCompare, scanned.skipped], [undefined, undefined], 'the sync read windows');
      assert.deepEqual(
        await differences(bot),
        { tradesUpdated: { count: 0, sample: [] }, others: 0, otherTables: {} },
        'the date scan, from the last one, took the fee',
      );
    } finally {
      mutator.close();
    }
  });

  it("a bot above SYNC_DATE_SCAN_ROWS: its other tables' windows through indexes miss none of FreqTrade's writes; custom data set on a closed trade waits for the next date scan", async () => {
    const bot = 'other-tables-by-index';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 200, version: 'S13', seed: 57, openShare: 0.1, wal: true });
    const big = (interval: number) => ({
      ...ctx(),
      config: { ...env.config, SYNC_DATE_SCAN_ROWS: 0, SYNC_DATE_SCAN_INTERVAL: interval },
    });
    await syncBot(big(3_600_000), bot);
    // FreqTrade's writes an index window finds: locks taken, released and deleted through the API,
    // balances, key-value writes, custom data of open trades, rows deleted, trades opened and closed.
    const kinds: Mutation[] = [
      'custom-data',
      'lock',
      'delete-lock',
      'wallet',
      'key-value',
      'delete-other',
      'open',
      'close',
      'delete-trade',
    ];
    const mutator = new FreqtradeMutator(file, 57);
    const rng = random(57);
    try {
      for (let round = 0; round < 12; round++) {
        const applied = [];
        for (let k = 0; k < 1 + Math.floor(rng() * 4); k++) {
          const done = mutator.apply(kinds[Math.floor(rng() * kinds.length)]!);
          if (done) applied.push(done.kind);
        }
        const result = await syncBot(big(3_600_000), bot);
        const what = `round ${round} (${applied.join(', ')})`;
        assert.deepEqual(
          [result.fullCompare, result.skipped],
          [undefined, undefined],
          `${what}: the sync read windows`,
        );
        assert.deepEqual(
          await differences(bot),
          { tradesUpdated: { count: 0, sample: [] }, others: 0, otherTables: {} },
          `${what}: equal`,
        );
        // The counts the next run compares the file's with (a deletion is told by them) are PostgreSQL's.
        const { rows } = await env.db.pool.query<{ stored: Record<string, number>; held: Record<string, number> }>(
          `SELECT s.other_counts AS stored, json_build_object(
             'pairlocks', (SELECT count(*) FROM pairlocks WHERE bot_id = s.bot_id),
             'trade_custom_data', (SELECT count(*) FROM trade_custom_data WHERE bot_id = s.bot_id),
             'wallet_history', (SELECT count(*) FROM wallet_history WHERE bot_id = s.bot_id),
             'key_value_store', (SELECT count(*) FROM key_value_store WHERE bot_id = s.bot_id)) AS held
           FROM bot_sync_state s JOIN bots b ON b.id = s.bot_id WHERE b.instance_id = $1`,
          [bot],
        );
        assert.equal(rows.length, 1, `${what}: the bot's sync state`);
        assert.deepEqual(rows[0]!.stored, rows[0]!.held, `${what}: the stored counts`);
      }
      // What only an unindexed date tells: custom data set on a closed trade (updated_at).
      const db = new Database(file);
      const closed = db
        .prepare<[], { id: bigint }>(
          'SELECT ft_trade_id AS id FROM trade_custom_data WHERE ft_trade_id IN (SELECT id FROM trades WHERE is_open = 0) LIMIT 1',
        )
        .safeIntegers(true)
        .get();
      assert.ok(closed !== undefined, 'custom data of a closed trade');
      db.prepare("UPDATE trade_custom_data SET cd_value = cd_value || '!', updated_at = ? WHERE ft_trade_id = ?").run(
        naiveUtc(Date.now() * 1000),
        closed.id,
      );
      db.close();
      await syncBot(big(3_600_000), bot);
      assert.deepEqual((await differences(bot)).otherTables, { trade_custom_data: 1 }, 'the index window leaves it');
      const scanned = await syncBot(big(0), bot);
      assert.deepEqual([scanned.fullCompare, scanned.skipped], [undefined, undefined], 'the sync read windows');
      assert.deepEqual((await differences(bot)).otherTables, {}, 'the date scan took it');
    } finally {
      mutator.close();
    }
  });

  it("a bot above SYNC_DATE_SCAN_ROWS: turso-push's windows through indexes keep the Turso copy equal; a fee fetched after the close waits for the next date scan, from the last", async () => {
    const bot = 'push-by-index';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 200, version: 'S13', seed: 63, openShare: 0.1, wal: true });
    enablePush(bot);
    // Every bot is big here; a margin of 1 ms, so only a scan from the last date scan reaches the fee.
    const pushBig = (interval: number) =>
      pushBot({
        config: {
          ...env.config,
          SYNC_DATE_SCAN_ROWS: 0,
          SYNC_DATE_SCAN_INTERVAL: interval,
          SYNC_WINDOW_MARGIN: 1,
        },
        pg: env.runtime.pg,
        instance: bot,
        signal: new AbortController().signal,
        log: async () => undefined,
        progress: async () => undefined,
      });
    const pushState = async () =>
      (
        await env.runtime.pg.query<{
          window_at: Date;
          window_high_water: Date | null;
          dates_scanned_at: Date | null;
          dates_high_water: Date | null;
        }>(
          `SELECT window_at, window_high_water, dates_scanned_at, dates_high_water
           FROM turso_push_targets WHERE instance = $1`,
          [bot],
        )
      ).rows[0]!;
    const mutator = new FreqtradeMutator(file, 63);
    mutator.unfillPrecision(3); // closed trades FreqTrade fills at its next start, setting no date
    const rng = random(63);
    try {
      const first = await pushBig(3_600_000);
      assert.equal(first.windows, undefined, 'the first push compares every row');
      const full = await pushState();
      assert.ok(full.dates_scanned_at !== null, 'the first push read every date');
      assert.equal(full.dates_scanned_at.getTime(), full.window_at.getTime(), 'at the time of its run');
      assert.ok(full.dates_high_water !== null, "with the file's latest date then");
      assert.equal(full.dates_high_water.getTime(), full.window_high_water?.getTime());
      // FreqTrade's writes an index window finds, dated or not: trades opened, exited in part,
      // closed, deleted, orders cancelled, a dry-run order left open and closed at the next start,
      // precision filled at a start, custom data of open trades, locks, balances, keys.
      const kinds: Mutation[] = [
        'open',
        'partial-exit',
        'close',
        'cancel-order',
        'delete-trade',
        'dry-order-left-open',
        'fix-dry-orders',
        'custom-data',
        'lock',
        'delete-lock',
        'wallet',
        'key-value',
        'delete-other',
      ];
      let read = 0;
      // Each kind once, in the list's order (a lock before its deletion, an order left open before
      // the start that closes it), with up to two at random.
      for (const [round, kind] of kinds.entries()) {
        assert.ok(mutator.apply(kind), `round ${round}: ${kind} applied`);
        const applied: Mutation[] = [kind];
        for (let k = 0; k < Math.floor(rng() * 3); k++) {
          const more = kinds[Math.floor(rng() * kinds.length)]!;
          // A balance is keyed by its time: a second one in the same millisecond is no FreqTrade write.
          if (more === 'wallet' && applied.includes('wallet')) continue;
          const done = mutator.apply(more);
          if (done) applied.push(done.kind);
        }
        if (round === 8) {
          assert.ok(mutator.apply('backfill-precision'), 'precision filled');
          applied.push('backfill-precision');
        }
        const what = `round ${round} (${applied.join(', ')})`;
        const pushed = await pushBig(3_600_000);
        assert.ok(pushed.windows, `${what}: the push read windows`);
        read += Object.values(pushed.windows).reduce((sum, n) => sum + n, 0);
        assert.deepEqual(await tursoDifferences(bot, file, new Set()), [], `${what}: the Turso copy equals the source`);
        const state = await pushState();
        assert.deepEqual(
          [state.dates_scanned_at, state.dates_high_water],
          [full.dates_scanned_at, full.dates_high_water],
          `${what}: no date scan; the last one's kept`,
        );
      }
      assert.ok(
        read < kinds.length * 100,
        `the windows read few rows of the bot's 200 trades and their orders: ${read} in ${kinds.length} pushes`,
      );

      const fee = mutator.apply('fee-after-close');
      assert.ok(fee?.trade !== undefined, 'a fee fetched after a close');
      assert.ok(mutator.apply('open'), 'a trade opened');
      const byIndex = await pushBig(3_600_000);
      assert.ok(byIndex.windows, 'the push read windows');
      assert.deepEqual(
        await tursoDifferences(bot, file, new Set()),
        ['orders', 'trades'],
        'all taken but the fee (its trade and order), which only a date tells',
      );
      assert.ok(mutator.apply('open'), 'another trade opened');
      const scanned = await pushBig(0);
      assert.ok(scanned.windows, 'the push read windows');
      assert.deepEqual(
        await tursoDifferences(bot, file, new Set()),
        [],
        'the date scan, from the last one, took the fee',
      );
      const after = await pushState();
      assert.equal(after.dates_scanned_at?.getTime(), after.window_at.getTime(), 'the date scan is recorded');
      assert.equal(
        after.dates_high_water?.getTime(),
        after.window_high_water?.getTime(),
        "with the file's latest date",
      );
      assert.ok(after.dates_high_water! > full.dates_high_water!, 'later than the first scan');
    } finally {
      mutator.close();
    }
  });

  it("a changed bot's windowed sync tells its progress once, however many of its other tables it reads", async () => {
    const bot = 'windows-progress';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 120, version: 'S13', seed: 17, openShare: 0.1, wal: true });
    await syncBot(ctx(), bot);
    const mutator = new FreqtradeMutator(file, 17);
    try {
      assert.ok(
        mutator.apply('open') && mutator.apply('custom-data') && mutator.apply('lock') && mutator.apply('wallet'),
        'a trade opened, custom data set, a pair locked, a balance written',
      );
    } finally {
      mutator.close();
    }
    const run = ctx();
    const result = await syncBot(run, bot);
    assert.deepEqual([result.fullCompare, result.skipped], [undefined, undefined], 'the sync read windows');
    const written = (table: string) =>
      (result.otherTables?.[table]?.inserted ?? 0) + (result.otherTables?.[table]?.updated ?? 0);
    assert.ok(
      written('trade_custom_data') > 0 && written('pairlocks') > 0 && written('wallet_history') > 0,
      `the other tables' new rows were read and written: ${JSON.stringify(result.otherTables)}`,
    );
    // Each update is a round trip to Redis in a worker: the trades' and orders' window, told once.
    const window = result.trades.inserted + result.trades.updated + result.orders.inserted + result.orders.updated;
    assert.equal(run.progressValues.length, 1, `progress told: ${JSON.stringify(run.progressValues)}`);
    assert.ok(window > 0, 'trades and orders changed in the window');
    assert.deepEqual(await differences(bot), { tradesUpdated: { count: 0, sample: [] }, others: 0, otherTables: {} });
  });

  it('the reset guard holds under windows: a fresh database copied over the file in place is refused; accepted, every row of the file is synced', async () => {
    const bot = 'windows-reset';
    const file = botDbPath(bots(), bot);
    createBotDatabase(file, { trades: 200, seed: 3, wal: false });
    await syncBot(ctx(), bot);
    // FreqTrade started afresh (ids from 1, more trades than before: nothing to delete; the newest opened now) and the file copied over the old
    // one: same file (inode), same schema, dates ahead of the last run, so the window is read.
    const fresh = `${file}.fresh`;
    createBotDatabase(fresh, { trades: 250, seed: 9, wal: false });
    const db = new Database(fresh);
    db.prepare('UPDATE trades SET open_date = ? WHERE id > 240').run(naiveUtc(Date.now() * 1000));
    db.close();
    copyFileSync(fresh, file);
    const context = ctx();
    await assert.rejects(syncBot(context, bot), ResetSuspectedError);
    assert.ok(
      context.lines.some((line) => line.includes(': change windows since')),
      `the refused sync read windows: ${context.lines.join(' | ')}`,
    );
    const { rows } = await env.db.pool.query(
      `SELECT count(*)::int AS n FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1`,
      [bot],
    );
    assert.equal(rows[0].n, 200, 'the history is kept');
    // Accepted: the old rows archived, and every row of the file in PostgreSQL, not the window's alone.
    const accepted = await syncBot(ctx(), bot, { acceptReset: 'archive' });
    assert.equal(accepted.reset?.trades, 200, 'the old trades archived');
    assert.deepEqual(
      await differences(bot),
      { tradesUpdated: { count: 0, sample: [] }, others: 0, otherTables: {} },
      'equal to the file',
    );
  });
});
