import { openBotDatabase, type SqliteDb } from '../../connections/sqlite.js';
import { PermanentJobError } from '../../errors.js';
import { ordersMapping, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { normalizeRow, planColumns, UnkeyedRowError, type ColumnPlan, type NormalizedRow } from './row-normalizer.js';
import { describeSqliteFailure } from './sqlite-errors.js';

export interface RowDigest {
  /** key -> row hash */
  readonly hashes: Map<number, string>;
  /** order key -> trade id, to keep orders whose trade is not in the source out */
  readonly parents: Map<number, number>;
  /** rows whose key is unusable, with why */
  readonly unkeyed: string[];
}

/**
 * A bot's FreqTrade database, read-only. Every read is a short statement of its own, never a
 * transaction held across awaits, so FreqTrade's writer is never kept waiting by a sync.
 */
export class BotDatabase {
  readonly trades: ColumnPlan;
  readonly orders: ColumnPlan | undefined;

  private constructor(
    private readonly db: SqliteDb,
    readonly bot: string,
    readonly file: string,
  ) {
    const tables = this.guard(() => new Set(db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name)));
    if (!tables.has('trades')) throw new PermanentJobError(`bot ${bot}: ${file} has no trades table (is it a FreqTrade database?)`);
    this.trades = this.plan(tradesMapping);
    this.orders = tables.has('orders') ? this.plan(ordersMapping) : undefined;
  }

  static open(bot: string, file: string, busyTimeoutMs: number): BotDatabase {
    let db: SqliteDb;
    try {
      db = openBotDatabase(file, { busyTimeoutMs });
      db.defaultSafeIntegers(true);
    } catch (error) {
      throw describeSqliteFailure(bot, file, error);
    }
    try {
      return new BotDatabase(db, bot, file);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  close(): void {
    this.db.close();
  }

  /** Hashes of every row of trades and orders, read in one snapshot so the two agree. */
  digest(): { trades: RowDigest; orders: RowDigest | undefined } {
    return this.guard(() => {
      const read = this.db.transaction(() => ({
        trades: this.digestTable(this.trades),
        orders: this.orders ? this.digestTable(this.orders) : undefined,
      }));
      return read.deferred();
    });
  }

  /** The rows with these keys, normalized (rows deleted since the digest are simply absent). */
  fetch(plan: ColumnPlan, keys: readonly number[]): NormalizedRow[] {
    return this.guard(() => {
      const sql = `SELECT * FROM "${plan.mapping.source}" WHERE "${plan.mapping.key.source}" IN (SELECT value FROM json_each(?))`;
      const rows = this.db.prepare<[string], Record<string, unknown>>(sql).all(JSON.stringify(keys));
      return rows.flatMap((row) => {
        try {
          return [normalizeRow(plan, row)];
        } catch (error) {
          if (error instanceof UnkeyedRowError) return [];
          throw error;
        }
      });
    });
  }

  /** Every row in key order, normalized, in one read (for verification: nothing awaits inside). */
  eachRow(plan: ColumnPlan, visit: (row: NormalizedRow) => void): void {
    this.guard(() => {
      const sql = `SELECT * FROM "${plan.mapping.source}" ORDER BY "${plan.mapping.key.source}"`;
      for (const row of this.db.prepare<[], Record<string, unknown>>(sql).iterate()) {
        try {
          visit(normalizeRow(plan, row));
        } catch (error) {
          if (!(error instanceof UnkeyedRowError)) throw error;
        }
      }
    });
  }

  private digestTable(plan: ColumnPlan): RowDigest {
    const hashes = new Map<number, string>();
    const parents = new Map<number, number>();
    const unkeyed: string[] = [];
    const rows = this.db.prepare<[], Record<string, unknown>>(`SELECT * FROM "${plan.mapping.source}"`).iterate();
    for (const row of rows) {
      try {
        const normalized = normalizeRow(plan, row);
        hashes.set(normalized.key, normalized.hash);
        const parent = normalized.values.trade_id;
        if (typeof parent === 'string') parents.set(normalized.key, Number(parent));
      } catch (error) {
        if (!(error instanceof UnkeyedRowError)) throw error;
        unkeyed.push(error.message);
      }
    }
    return { hashes, parents, unkeyed };
  }

  private plan(mapping: TableMapping): ColumnPlan {
    const columns = this.db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${mapping.source}')`).all().map((r) => r.name);
    const missing = mapping.required.filter((c) => !columns.includes(c));
    if (missing.length > 0) {
      throw new PermanentJobError(`bot ${this.bot}: ${this.file}: table ${mapping.source} lacks column(s) ${missing.join(', ')}; this is not a FreqTrade schema we know`);
    }
    return planColumns(mapping, columns);
  }

  private guard<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw describeSqliteFailure(this.bot, this.file, error);
    }
  }
}
