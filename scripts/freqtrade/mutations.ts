import Database from 'better-sqlite3';
import { addTrades, closeTrades } from './generate-bot-db.js';
import { naiveUtc, naiveUtcMicros, random } from './trade-plan.js';

/**
 * What a running FreqTrade does to its database, one change at a time, with its own clock (naive
 * UTC text of now), on a database of any version the generator makes: open a trade, exit part of
 * it, close it, cancel an order, delete a trade; FreqTrade's writes that change an old row and
 * set no date of it (src/bots/change-window.ts lists them): fix_old_dry_orders, a fee fetched
 * after the close, precision backfilled at start, a lock deleted through the API; a wallet
 * snapshot, a key-value store write; and what
 * FreqTrade never does by itself but happens: an old closed trade edited, a lock, balance or key
 * deleted, and a table rebuilt as
 * FreqTrade's migrations do.
 */
export type Mutation =
  | 'open'
  | 'partial-exit'
  | 'close'
  | 'cancel-order'
  | 'delete-trade'
  | 'custom-data'
  | 'lock'
  | 'dry-order-left-open'
  | 'fix-dry-orders'
  | 'fee-after-close'
  | 'backfill-precision'
  | 'delete-lock'
  | 'wallet'
  | 'key-value'
  | 'delete-other'
  | 'edit-old'
  | 'rebuild';

export interface MutationResult {
  kind: Mutation;
  /** The trade changed, when one was. */
  trade?: number;
}

const nowUs = (): number => Date.now() * 1000;

function columns(db: Database.Database, table: string): string[] {
  return db
    .prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)')
    .all(table)
    .map((c) => c.name);
}

function ids(db: Database.Database, sql: string): number[] {
  return db
    .prepare<[], { id: number }>(sql)
    .all()
    .map((r) => r.id);
}

export class FreqtradeMutator {
  private readonly db: Database.Database;
  private readonly rng: () => number;
  private readonly hasOrders: boolean;

  constructor(
    file: string,
    private readonly seed: number,
  ) {
    this.db = new Database(file);
    // FreqTrade (SQLAlchemy) leaves SQLite's foreign keys off.
    this.db.pragma('foreign_keys = OFF');
    this.rng = random(seed * 31 + 7);
    this.hasOrders = columns(this.db, 'orders').length > 0;
  }

  close(): void {
    this.db.close();
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.rng() * items.length)];
  }

  apply(kind: Mutation): MutationResult | undefined {
    switch (kind) {
      case 'open':
        return this.open();
      case 'partial-exit':
        return this.partialExit();
      case 'close':
        return this.closeOne();
      case 'cancel-order':
        return this.cancelOrder();
      case 'delete-trade':
        return this.deleteTrade();
      case 'custom-data':
        return this.customData();
      case 'lock':
        return this.lock();
      case 'dry-order-left-open':
        return this.dryOrderLeftOpen();
      case 'fix-dry-orders':
        return this.fixDryOrders();
      case 'fee-after-close':
        return this.feeAfterClose();
      case 'backfill-precision':
        return this.backfillPrecision();
      case 'delete-lock':
        return this.deleteLock();
      case 'wallet':
        return this.wallet();
      case 'key-value':
        return this.keyValue();
      case 'delete-other':
        return this.deleteOther();
      case 'edit-old':
        return this.editOld();
      case 'rebuild':
        return this.rebuild();
    }
  }

  private open(): MutationResult {
    const first = ids(this.db, 'SELECT coalesce(max(id), 0) + 1 AS id FROM trades')[0]!;
    // A bot has written only the past: the trade's later orders are dated by now.
    const at = nowUs();
    addTrades(this.db, {
      first,
      count: 1,
      seed: this.seed,
      openShare: 1,
      startUs: at,
      spacingUs: 1000,
      notAfterUs: at,
    });
    return { kind: 'open', trade: first };
  }

  private partialExit(): MutationResult | undefined {
    const trade = this.pick(ids(this.db, 'SELECT id FROM trades WHERE is_open = 1'));
    if (trade === undefined) return undefined;
    const now = naiveUtc(nowUs());
    const tradeColumns = new Set(columns(this.db, 'trades'));
    const sets = ['amount = amount * 0.5'];
    if (tradeColumns.has('realized_profit')) sets.push('realized_profit = coalesce(realized_profit, 0) + 1.25');
    if (tradeColumns.has('stake_amount')) sets.push('stake_amount = stake_amount * 0.5');
    this.db.prepare(`UPDATE trades SET ${sets.join(', ')} WHERE id = ?`).run(trade);
    if (this.hasOrders) {
      const entry = ids(this.db, `SELECT id FROM orders WHERE ft_trade_id = ${trade} ORDER BY id LIMIT 1`)[0];
      if (entry !== undefined) {
        const id = ids(this.db, 'SELECT max(id) + 1 AS id FROM orders')[0]!;
        const overrides: Record<string, string> = {
          id: String(id),
          order_id: `'partial-${id}'`,
          ft_is_open: '0',
          status: "'closed'",
          side: "CASE side WHEN 'buy' THEN 'sell' ELSE 'buy' END",
          ft_order_side: "CASE ft_order_side WHEN 'buy' THEN 'sell' WHEN 'sell' THEN 'buy' ELSE 'exit' END",
          amount: 'amount * 0.5',
          filled: 'amount * 0.5',
          remaining: '0',
          order_date: `'${now}'`,
          order_update_date: `'${now}'`,
          order_filled_date: `'${now}'`,
        };
        const cols = columns(this.db, 'orders');
        this.db
          .prepare(
            `INSERT INTO orders (${cols.map((c) => `"${c}"`).join(', ')}) SELECT ${cols.map((c) => overrides[c] ?? `"${c}"`).join(', ')} FROM orders WHERE id = ?`,
          )
          .run(entry);
      }
    }
    return { kind: 'partial-exit', trade };
  }

  private closeOne(): MutationResult | undefined {
    const trade = this.pick(ids(this.db, 'SELECT id FROM trades WHERE is_open = 1'));
    if (trade === undefined) return undefined;
    // Half the time the exit filled hours ago (the bot was down): FreqTrade dates the close by
    // the exchange's fill, so only "open at the last run" brings this trade into the window.
    const opened = naiveUtcMicros(
      this.db.prepare<[number], { open_date: string }>('SELECT open_date FROM trades WHERE id = ?').get(trade)!
        .open_date,
    );
    const closedUs = this.rng() < 0.5 ? nowUs() : Math.max(opened + 1_000_000, nowUs() - 3 * 3600e6);
    // Its exit orders filled by now too: a bot writes only what has happened.
    closeTrades(this.db, [trade], { closedUs, seed: this.seed, notAfterUs: nowUs() });
    return { kind: 'close', trade };
  }

  private cancelOrder(): MutationResult | undefined {
    if (!this.hasOrders) return undefined;
    const order = this.pick(ids(this.db, 'SELECT id FROM orders WHERE ft_is_open = 1'));
    if (order === undefined) return undefined;
    const update = columns(this.db, 'orders').includes('order_update_date') ? ', order_update_date = ?' : '';
    const args = update === '' ? [order] : [naiveUtc(nowUs()), order];
    this.db.prepare(`UPDATE orders SET status = 'canceled', ft_is_open = 0${update} WHERE id = ?`).run(...args);
    return { kind: 'cancel-order' };
  }

  /** FreqTrade deletes a trade whose entry was cancelled unfilled (an open one), or an operator any. */
  private deleteTrade(): MutationResult | undefined {
    const open = this.rng() < 0.7;
    const trade = this.pick(ids(this.db, `SELECT id FROM trades WHERE is_open = ${open ? 1 : 0} AND id > 10`));
    if (trade === undefined) return undefined;
    this.db.transaction(() => {
      if (this.hasOrders) this.db.prepare('DELETE FROM orders WHERE ft_trade_id = ?').run(trade);
      if (columns(this.db, 'trade_custom_data').length > 0)
        this.db.prepare('DELETE FROM trade_custom_data WHERE ft_trade_id = ?').run(trade);
      this.db.prepare('DELETE FROM trades WHERE id = ?').run(trade);
    })();
    return { kind: 'delete-trade', trade };
  }

  /** A strategy's set_custom_data on an open trade: the row inserted or updated, stamped now. */
  private customData(): MutationResult | undefined {
    if (columns(this.db, 'trade_custom_data').length === 0) return undefined;
    const trade = this.pick(ids(this.db, 'SELECT id FROM trades WHERE is_open = 1'));
    if (trade === undefined) return undefined;
    const now = naiveUtc(nowUs());
    this.db
      .prepare(
        `INSERT INTO trade_custom_data (ft_trade_id, cd_key, cd_type, cd_value, created_at, updated_at)
         VALUES (?, 'entry_signal', 'str', ?, ?, NULL)
         ON CONFLICT (ft_trade_id, cd_key) DO UPDATE SET cd_value = excluded.cd_value, updated_at = ?`,
      )
      .run(trade, `v${Math.floor(this.rng() * 1e6)}`, now, now);
    return { kind: 'custom-data', trade };
  }

  /**
   * A pair locked now, or a lock in force released (FreqTrade's unlock_pair flips `active`, no date
   * changes; it finds only locks whose lock_end_time is still ahead).
   */
  private lock(): MutationResult | undefined {
    if (columns(this.db, 'pairlocks').length === 0) return undefined;
    const active = ids(this.db, 'SELECT id FROM pairlocks WHERE active = 1');
    if (active.length > 0 && this.rng() < 0.5) {
      const inForce = ids(
        this.db,
        `SELECT id FROM pairlocks WHERE active = 1 AND lock_end_time > '${naiveUtc(nowUs())}'`,
      );
      const lock = this.pick(inForce.length > 0 ? inForce : active)!;
      if (inForce.length > 0) {
        this.db.prepare('UPDATE pairlocks SET active = 0 WHERE id = ?').run(lock);
        return { kind: 'lock' };
      }
      // No lock in force, none to release: a pair is locked instead.
    }
    const now = nowUs();
    const lockColumns = columns(this.db, 'pairlocks');
    const side = lockColumns.includes('side') ? ', side' : '';
    this.db
      .prepare(
        `INSERT INTO pairlocks (pair${side}, reason, lock_time, lock_end_time, active) VALUES (?${side === '' ? '' : ", '*'"}, 'cooldown', ?, ?, 1)`,
      )
      .run('BTC/USDT', naiveUtc(now), naiveUtc(now + 3600e6));
    return { kind: 'lock' };
  }

  /**
   * A dry-run trade closed while one of its orders stayed open (what older FreqTrade versions
   * left behind, and fix_old_dry_orders cleans up at the next start): a change in the window,
   * the trade being open at the last run.
   */
  private dryOrderLeftOpen(): MutationResult | undefined {
    if (!this.hasOrders) return undefined;
    const closed = this.closeOne();
    if (closed === undefined) return undefined;
    this.leaveOrderOpen(closed.trade!);
    return { kind: 'dry-order-left-open', trade: closed.trade };
  }

  /** One order of the trade made a dry-run order still open (its dates untouched); returns its id. */
  leaveOrderOpen(trade: number): number | undefined {
    const order = ids(this.db, `SELECT id FROM orders WHERE ft_trade_id = ${trade} ORDER BY id DESC LIMIT 1`)[0];
    if (order === undefined) return undefined;
    this.db.prepare("UPDATE orders SET ft_is_open = 1, order_id = 'dry_run_' || id WHERE id = ?").run(order);
    return order;
  }

  /** FreqTrade's fix_old_dry_orders (persistence/migrations.py), run at every start: no date changes. */
  private fixDryOrders(): MutationResult | undefined {
    if (!this.hasOrders) return undefined;
    const fixed = this.db.transaction(
      () =>
        this.db
          .prepare(
            "UPDATE orders SET ft_is_open = 0 WHERE ft_is_open = 1 AND ft_order_side = 'stoploss' AND order_id LIKE 'dry%'",
          )
          .run().changes +
        this.db
          .prepare(
            `UPDATE orders SET ft_is_open = 0 WHERE ft_is_open = 1 AND ft_trade_id NOT IN (SELECT id FROM trades WHERE is_open = 1)
             AND ft_order_side != 'stoploss' AND order_id LIKE 'dry%'`,
          )
          .run().changes,
    )();
    return fixed === 0 ? undefined : { kind: 'fix-dry-orders' };
  }

  /**
   * FreqTrade's update_trades_without_assigned_fees (freqtradebot.py): a closed trade's exit
   * order fetched again (Order.update_from_ccxt_object stamps order_update_date), its fee set on
   * the trade (update_fee) and its profit recomputed; the trade's close_date is kept.
   */
  private feeAfterClose(): MutationResult | undefined {
    if (!this.hasOrders) return undefined;
    const tradeColumns = new Set(columns(this.db, 'trades'));
    if (!tradeColumns.has('fee_close_cost')) return undefined;
    const trade = this.pick(
      ids(
        this.db,
        `SELECT id FROM trades t WHERE is_open = 0 AND close_date < datetime('now', '-1 day')
         AND EXISTS (SELECT 1 FROM orders o WHERE o.ft_trade_id = t.id)`,
      ),
    );
    if (trade === undefined) return undefined;
    const order = ids(this.db, `SELECT id FROM orders WHERE ft_trade_id = ${trade} ORDER BY id DESC LIMIT 1`)[0]!;
    const fee = Math.round(this.rng() * 1e6) / 1e8;
    this.db.transaction(() => {
      this.db.prepare('UPDATE orders SET order_update_date = ? WHERE id = ?').run(naiveUtc(nowUs()), order);
      const profit = tradeColumns.has('close_profit_abs')
        ? ', close_profit_abs = coalesce(close_profit_abs, 0) - ?'
        : '';
      this.db
        .prepare(`UPDATE trades SET fee_close_cost = ?, fee_close_currency = 'USDT'${profit} WHERE id = ?`)
        .run(...(profit === '' ? [fee, trade] : [fee, fee, trade]));
    })();
    return { kind: 'fee-after-close', trade };
  }

  /** Old trades without precision, as FreqTrade's migration copies them (test setup: before the first sync). */
  unfillPrecision(count: number): number[] {
    if (!columns(this.db, 'trades').includes('contract_size')) return [];
    const chosen = ids(this.db, `SELECT id FROM trades WHERE is_open = 0 AND id > 10 ORDER BY id LIMIT ${count}`);
    const sets = ['contract_size', 'precision_mode', 'amount_precision', 'price_precision']
      .filter((c) => columns(this.db, 'trades').includes(c))
      .map((c) => `${c} = NULL`);
    this.db
      .prepare(`UPDATE trades SET ${sets.join(', ')} WHERE id IN (SELECT value FROM json_each(?))`)
      .run(JSON.stringify(chosen));
    return chosen;
  }

  /** FreqTrade's startup_backpopulate_precision (freqtradebot.py), at every start: trades open or closed, no date. */
  private backfillPrecision(): MutationResult | undefined {
    const tradeColumns = new Set(columns(this.db, 'trades'));
    if (!tradeColumns.has('contract_size')) return undefined;
    const sets = [
      ['precision_mode', '4'],
      ['amount_precision', '0.001'],
      ['price_precision', '0.01'],
      ['precision_mode_price', '4'],
      ['contract_size', '1.0'],
    ].filter(([c]) => tradeColumns.has(c!));
    const filled = this.db
      .prepare(`UPDATE trades SET ${sets.map(([c, v]) => `${c} = ${v}`).join(', ')} WHERE contract_size IS NULL`)
      .run().changes;
    return filled === 0 ? undefined : { kind: 'backfill-precision' };
  }

  /** FreqTrade's API deleting a lock by id (rpc.py _rpc_delete_lock): active = 0, lock_end_time = now, even on a lock no longer active. */
  private deleteLock(): MutationResult | undefined {
    const lockColumns = columns(this.db, 'pairlocks');
    if (!lockColumns.includes('lock_end_time')) return undefined;
    const inactive = ids(this.db, 'SELECT id FROM pairlocks WHERE active = 0');
    const lock = this.pick(inactive.length > 0 ? inactive : ids(this.db, 'SELECT id FROM pairlocks'));
    if (lock === undefined) return undefined;
    this.db.prepare('UPDATE pairlocks SET active = 0, lock_end_time = ? WHERE id = ?').run(naiveUtc(nowUs()), lock);
    return { kind: 'delete-lock' };
  }

  /** FreqTrade 2026.4's wallet snapshot: a balance row per currency, stamped now. */
  private wallet(): MutationResult | undefined {
    if (columns(this.db, 'wallet_history').length === 0) return undefined;
    const now = naiveUtc(nowUs());
    const insert = this.db.prepare(
      `INSERT INTO wallet_history (timestamp, currency, rate, quote_currency, balance, total_quote, total_position_value, collateral, leverage, bot_managed)
       VALUES (?, ?, ?, 'USDT', ?, ?, ?, ?, 1.0, 1)`,
    );
    const usdt = Number((1000 * (0.9 + this.rng() * 0.2)).toFixed(8));
    const position = Number((usdt * this.rng() * 0.5).toFixed(8));
    insert.run(now, 'USDT', 1.0, usdt, usdt + position, position, usdt);
    const rate = Number((60_000 * (0.9 + this.rng() * 0.2)).toFixed(2));
    insert.run(now, 'BTC', rate, Number((position / rate).toFixed(8)), position, position, null);
    return { kind: 'wallet' };
  }

  /** KeyValueStore as FreqTrade writes it at start (startup_time set again), or a strategy's key added or set. */
  private keyValue(): MutationResult | undefined {
    if (columns(this.db, 'KeyValueStore').length === 0) return undefined;
    const now = naiveUtc(nowUs());
    if (this.rng() < 0.5) {
      this.db.prepare("UPDATE KeyValueStore SET datetime_value = ? WHERE key = 'startup_time'").run(now);
      return { kind: 'key-value' };
    }
    const key = `strategy_state_${Math.floor(this.rng() * 3)}`;
    const value = Math.floor(this.rng() * 1e6);
    const updated = this.db.prepare('UPDATE KeyValueStore SET int_value = ? WHERE key = ?').run(value, key).changes;
    if (updated === 0)
      this.db.prepare("INSERT INTO KeyValueStore (key, value_type, int_value) VALUES (?, 'int', ?)").run(key, value);
    return { kind: 'key-value' };
  }

  /** A row of the bot's other tables deleted (by hand, a tool, a cleanup): a lock, a balance or a key. */
  private deleteOther(): MutationResult | undefined {
    const tables = ['pairlocks', 'wallet_history', 'KeyValueStore'].filter((t) => columns(this.db, t).length > 0);
    const table = this.pick(tables);
    if (table === undefined) return undefined;
    const id = this.pick(ids(this.db, `SELECT id FROM "${table}"`));
    if (id === undefined) return undefined;
    this.db.prepare(`DELETE FROM "${table}" WHERE id = ?`).run(id);
    return { kind: 'delete-other' };
  }

  /** An old closed trade edited in place: outside every window, found by the next full compare. */
  private editOld(): MutationResult | undefined {
    const trade = this.pick(
      ids(this.db, "SELECT id FROM trades WHERE is_open = 0 AND id > 10 AND close_date < datetime('now', '-1 day')"),
    );
    if (trade === undefined) return undefined;
    this.db.prepare('UPDATE trades SET close_profit_abs = coalesce(close_profit_abs, 0) + 1 WHERE id = ?').run(trade);
    return { kind: 'edit-old', trade };
  }

  /**
   * FreqTrade's migrations (persistence/migrations.py): the table renamed to a backup, its indexes
   * dropped, created again, the rows copied back with ids kept, here rewriting an old value too.
   */
  private rebuild(): MutationResult {
    const table = this.hasOrders && this.rng() < 0.5 ? 'orders' : 'trades';
    const backup = `${table}_bak${Math.floor(this.rng() * 1e6)}`;
    const master = this.db
      .prepare<[string], { type: string; name: string; sql: string | null }>(
        'SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC',
      )
      .all(table);
    const cols = columns(this.db, table).map((c) => `"${c}"`);
    const edited =
      table === 'trades'
        ? ids(this.db, 'SELECT id FROM trades WHERE is_open = 0 AND id > 10 ORDER BY id LIMIT 1')[0]
        : undefined;
    this.db.pragma('legacy_alter_table = ON');
    this.db.transaction(() => {
      this.db.exec(`ALTER TABLE "${table}" RENAME TO "${backup}"`);
      for (const m of master) if (m.type === 'index') this.db.exec(`DROP INDEX "${m.name}"`);
      for (const m of master) this.db.exec(m.sql!);
      this.db.exec(`INSERT INTO "${table}" (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM "${backup}"`);
      if (edited !== undefined)
        this.db
          .prepare('UPDATE trades SET close_profit_abs = coalesce(close_profit_abs, 0) + 2 WHERE id = ?')
          .run(edited);
    })();
    this.db.pragma('legacy_alter_table = OFF');
    return { kind: 'rebuild', trade: edited };
  }
}
