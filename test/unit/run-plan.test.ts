import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { scanWindow, type WindowMemory } from '../../src/bots/change-window.js';
import { planRead, unchangedRun, type RunFacts, type ScannedWindows } from '../../src/bots/run-plan.js';

/**
 * The run plan both bot-sync and turso-push follow: each outcome with the reason it reports, on
 * a small FreqTrade-like file whose latest dates are known. The scan reads the trades' window
 * only, so the orders' latest date is the plan's own scan.
 */
describe('run plan: nothing, the windows since a date, or every row because of a reason', () => {
  const HOUR = 3_600_000;
  const MARGIN = 5 * 60_000;
  const config = { FULL_COMPARE_INTERVAL: HOUR, SYNC_WINDOW_MARGIN: MARGIN };
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE trades (id INTEGER PRIMARY KEY, is_open BOOLEAN, open_date DATETIME, close_date DATETIME, contract_size FLOAT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, ft_trade_id INTEGER, ft_is_open BOOLEAN, order_date DATETIME,
      order_update_date DATETIME, order_filled_date DATETIME);
    INSERT INTO trades VALUES (1, 0, '2026-12-07 08:00:00.000000', '2026-12-07 09:00:00.000000', 1),
      (2, 0, '2026-12-07 10:00:00.000000', '2026-12-07 10:30:00.000000', 1);
    INSERT INTO orders VALUES (1, 2, 0, '2026-12-07 10:00:00.000000', '2026-12-07 11:00:00.000000', NULL);`);
  after(() => db.close());
  /** The latest date of trades (10:30) and of orders (11:00), as FreqTrade's naive UTC. */
  const tradesLatest = new Date('2026-12-07T10:30:00Z');
  const ordersLatest = new Date('2026-12-07T11:00:00Z');
  const now = new Date('2026-12-07T12:00:00Z');

  interface TradesScan extends ScannedWindows {
    ids: number[];
  }
  const scans: Date[] = [];
  const file = (scan?: (since: Date) => Promise<TradesScan | string>) => ({
    db,
    tables: ['trades', 'orders'],
    scan:
      scan ??
      (async (since: Date): Promise<TradesScan> => {
        scans.push(since);
        const trades = scanWindow(db, 'trades', since, { maxId: 2, openIds: [] });
        return { ids: trades.ids, highWater: trades.highWater, scanned: ['trades'] };
      }),
  });
  const facts = (fields: Partial<RunFacts>): RunFacts => ({
    memory: undefined,
    now,
    fingerprint: 'f1',
    recordedFingerprint: 'f1',
    identity: 'device 1 inode 7',
    recordedIdentity: 'device 1 inode 7',
    asked: false,
    config,
    ...fields,
  });

  /** What the last run left: the one before this compared every row; `at` its read, `fullAt` its full compare. */
  async function memoryOf(at: Date, fullAt: Date): Promise<WindowMemory> {
    const first = await planRead(facts({ now: fullAt }), file());
    assert.deepEqual(first.read === 'every row' && first.because, 'no change window recorded yet');
    return { ...first.next, at, fullAt };
  }

  it('reads nothing when the fingerprint is the last run’s and no full compare is due; else it reads', async () => {
    const windowed = await memoryOf(new Date(now.getTime() - 10 * 60_000), new Date(now.getTime() - 30 * 60_000));
    assert.equal(unchangedRun(facts({ memory: windowed })), true);
    assert.equal(unchangedRun(facts({ memory: windowed, fingerprint: 'f2' })), false, 'another fingerprint');
    assert.equal(unchangedRun(facts({ memory: windowed, fingerprint: null })), false, 'no fingerprint to trust');
    assert.equal(unchangedRun(facts({ memory: windowed, recordedFingerprint: undefined })), false, 'never ran');
    assert.equal(unchangedRun(facts({ memory: windowed, asked: true })), false, '--full');
    assert.equal(unchangedRun(facts({ memory: windowed, everyRowBecause: 'records not trusted' })), false);
    const due = await memoryOf(new Date(now.getTime() - 10 * 60_000), new Date(now.getTime() - HOUR));
    assert.equal(unchangedRun(facts({ memory: due })), false, 'windows only since a full compare an hour ago');
    const fullLast = await memoryOf(new Date(now.getTime() - HOUR), new Date(now.getTime() - HOUR));
    assert.equal(unchangedRun(facts({ memory: fullLast })), true, 'the last run compared every row: nothing is due');
  });

  it('reads the windows since the earlier of the last run and the bot’s latest date, less the margin', async () => {
    const last = await memoryOf(new Date('2026-12-07T11:50:00Z'), new Date('2026-12-07T11:30:00Z'));
    assert.deepEqual(last.highWater, ordersLatest, 'the orders’ latest date, read apart from the scan');
    // The bot's latest date at the last run, before its trade 2 (10:00 to 10:30) and its order.
    const botClock = new Date('2026-12-07T09:30:00Z');
    const memory = { ...last, highWater: botClock };
    scans.length = 0;
    const plan = await planRead(facts({ memory, fingerprint: 'f2' }), file());
    assert.ok(plan.read === 'windows', plan.read === 'every row' ? plan.because : '');
    const since = new Date(botClock.getTime() - MARGIN);
    assert.deepEqual(plan.since, since);
    assert.deepEqual(scans, [since]);
    assert.deepEqual(plan.scan.ids, [2], 'the trade closed after the window’s start');
    assert.deepEqual(plan.next, { at: now, highWater: ordersLatest, fullAt: memory.fullAt, schema: memory.schema });
  });

  it('reads every row, with the reason, and no window, when it is known before any row is read', async () => {
    const memory = await memoryOf(new Date('2026-12-07T11:50:00Z'), new Date('2026-12-07T11:30:00Z'));
    const reasons: Array<[Partial<RunFacts>, string]> = [
      [{ everyRowBecause: 'first sync', asked: true }, 'first sync'],
      [{ asked: true }, 'a full compare was asked for'],
      [{ config: { ...config, FULL_COMPARE_INTERVAL: 0 } }, 'FULL_COMPARE_INTERVAL is 0'],
      [{ memory: undefined }, 'no change window recorded yet'],
      [
        { memory: { ...memory, schema: 'another' } },
        'the schema changed (a FreqTrade upgrade, or a table rebuilt by its migrations)',
      ],
      [{ identity: 'device 1 inode 8' }, 'the file is another file than at the last run'],
      [{ now: new Date('2026-12-07T11:40:00Z') }, "this host's clock went back since the last run"],
      [{ now: new Date('2026-12-07T12:30:00Z') }, 'FULL_COMPARE_INTERVAL (1h) has passed since the last full compare'],
    ];
    for (const [fields, because] of reasons) {
      scans.length = 0;
      const run = facts({ memory, ...fields });
      const plan = await planRead(run, file());
      assert.deepEqual(plan.read === 'every row' && plan.because, because);
      assert.equal(scans.length, 0, `${because}: no window scanned`);
      assert.deepEqual(plan.next, { at: run.now, highWater: ordersLatest, fullAt: run.now, schema: memory.schema });
    }
    const unknown = await planRead(facts({ memory, identity: 'device 1 inode 8', recordedIdentity: null }), file());
    assert.equal(unknown.read, 'windows', 'no identity recorded: the file is not taken for another');
  });

  it('reads every row when the windows cannot be read, or the bot’s latest date cannot be trusted', async () => {
    const memory = await memoryOf(new Date('2026-12-07T11:50:00Z'), new Date('2026-12-07T11:30:00Z'));
    const unkeyed = await planRead(
      facts({ memory }),
      file(async () => 'its trades table is not keyed by an INTEGER PRIMARY KEY id'),
    );
    assert.deepEqual(
      unkeyed.read === 'every row' && unkeyed.because,
      'the file cannot be read by windows: its trades table is not keyed by an INTEGER PRIMARY KEY id',
    );
    assert.deepEqual(unkeyed.next.highWater, ordersLatest, 'every table’s latest date read apart');

    const later = new Date(ordersLatest.getTime() + HOUR / 2);
    const wentBack = await planRead(facts({ memory: { ...memory, highWater: later } }), file());
    assert.deepEqual(
      wentBack.read === 'every row' && wentBack.because,
      "the bot's latest date went back since the last run (its clock, or its newest rows deleted)",
    );
    assert.ok(wentBack.scan !== undefined, 'the windows were read before their latest date was judged');
    assert.deepEqual(wentBack.next.highWater, ordersLatest);

    // This host's clock more than the margin behind the bot's latest trade.
    const early = new Date(tradesLatest.getTime() - MARGIN - 1);
    const lastRun = new Date(early.getTime() - 60_000);
    const ahead = await planRead(facts({ memory: { ...memory, at: lastRun, fullAt: lastRun }, now: early }), file());
    assert.deepEqual(
      ahead.read === 'every row' && ahead.because,
      "the bot's dates run ahead of this host's clock by more than SYNC_WINDOW_MARGIN",
    );
  });
});
