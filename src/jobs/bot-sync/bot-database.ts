import { describeBotDatabaseError, openBotDatabaseFile, type SqliteDb } from '../../bots/bot-database-file.js';
import { PermanentJobError } from '../../errors.js';
import { ordersMapping, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { planColumns, type ColumnPlan } from './column-values.js';
import { normalizeRow, UnkeyedRowError, type NormalizedRow } from './row-normalizer.js';

/**
 * A bot's FreqTrade database, read-only. Every read is a short statement of its own (a chunk of
 * rows), never a transaction held across awaits, so FreqTrade's writer is never kept waiting.
 */
export class BotDatabase {
  readonly trades: ColumnPlan;
  readonly orders: ColumnPlan | undefined;

  private constructor(
    private readonly db: SqliteDb,
    readonly bot: string,
    readonly file: string,
  ) {
    const tables = this.guard(
      () =>
        new Set(
          db
            .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
            .all()
            .map((r) => r.name),
        ),
    );
    if (!tables.has('trades'))
      throw new PermanentJobError(`bot ${bot}: ${file} has no trades table (is it a FreqTrade database?)`);
    this.trades = this.plan(tradesMapping);
    this.orders = tables.has('orders') ? this.plan(ordersMapping) : undefined;
  }

  static open(bot: string, file: string, busyTimeoutMs: number): BotDatabase {
    const db = openBotDatabaseFile(bot, file, { busyTimeoutMs });
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

  /** The columns `SELECT *` returns for a table, in order. */
  columnsOf(table: string): string[] {
    return this.guard(() =>
      this.db
        .prepare(`SELECT * FROM "${table}" LIMIT 0`)
        .columns()
        .map((c) => c.name),
    );
  }

  /** Rows of a table (raw arrays) in key order, from after `afterKey`, at most `limit`: one short read. */
  chunk(table: string, key: string, afterKey: number, limit: number): unknown[][] {
    return this.guard(() =>
      this.db
        .prepare<[number, number], unknown[]>(`SELECT * FROM "${table}" WHERE "${key}" > ? ORDER BY "${key}" LIMIT ?`)
        .raw(true)
        .all(afterKey, limit),
    );
  }

  /** Which of these keys the table has now. */
  existingKeys(table: string, key: string, keys: readonly number[]): Set<number> {
    if (keys.length === 0) return new Set();
    return this.guard(() => {
      const rows = this.db
        .prepare<[string], unknown[]>(
          `SELECT "${key}" FROM "${table}" WHERE "${key}" IN (SELECT value FROM json_each(?))`,
        )
        .raw(true)
        .all(JSON.stringify(keys));
      return new Set(rows.map((r) => Number(r[0])));
    });
  }

  /** Rows whose key is not an integer (FreqTrade never writes them; a damaged file might). */
  unkeyedCount(table: string, key: string): number {
    return this.guard(() => {
      const row = this.db
        .prepare<[], { n: bigint }>(`SELECT count(*) AS n FROM "${table}" WHERE typeof("${key}") <> 'integer'`)
        .get();
      return Number(row?.n ?? 0);
    });
  }

  count(table: string): number {
    return this.guard(() =>
      Number(this.db.prepare<[], { n: bigint }>(`SELECT count(*) AS n FROM "${table}"`).get()?.n ?? 0),
    );
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

  private plan(mapping: TableMapping): ColumnPlan {
    const columns = this.db
      .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${mapping.source}')`)
      .all()
      .map((r) => r.name);
    const missing = mapping.required.filter((c) => !columns.includes(c));
    if (missing.length > 0) {
      throw new PermanentJobError(
        `bot ${this.bot}: ${this.file}: table ${mapping.source} lacks column(s) ${missing.join(', ')}; this is not a FreqTrade schema we know`,
      );
    }
    return planColumns(mapping, columns);
  }

  private guard<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw describeBotDatabaseError(this.bot, this.file, error);
    }
  }
}
