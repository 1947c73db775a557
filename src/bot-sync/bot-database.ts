import { describeBotDatabaseError, openBotDatabaseFile, type SqliteDb } from '../bots/bot-database-file.js';
import { PermanentJobError } from '../errors.js';
import { ordersMapping, otherMappings, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { planColumns, type ColumnPlan } from './column-values.js';

/**
 * A bot's FreqTrade database, read-only. Every read is a short statement of its own (a chunk of
 * rows), never a transaction held across awaits, so FreqTrade's writer is never kept waiting.
 */
export class BotDatabase {
  readonly trades: ColumnPlan;
  readonly orders: ColumnPlan | undefined;
  /** The bot's other tables its FreqTrade version has (pairlocks since 2020.12, ...), in otherMappings' order. */
  readonly others: readonly TableMapping[];
  private readonly duplicates = new Map<string, ReadonlySet<number>>();
  private readonly columns = new Map<string, readonly string[]>();

  private constructor(
    /** The open file, for reads of their own (change windows: bots/change-window.ts). */
    readonly db: SqliteDb,
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
    // Planned now, so a table that is not FreqTrade's (a required column missing) fails before any write.
    this.others = otherMappings.filter((m) => tables.has(m.source) && this.plan(m) !== undefined);
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

  /** The columns `SELECT *` returns for a table, in order (read once per open file: one run's). */
  columnsOf(table: string): string[] {
    let columns = this.columns.get(table);
    if (columns === undefined) {
      columns = this.guard(() =>
        this.db
          .prepare(`SELECT * FROM "${table}" LIMIT 0`)
          .columns()
          .map((c) => c.name),
      );
      this.columns.set(table, columns);
    }
    return [...columns];
  }

  /**
   * Rows of a table (raw arrays: the columns of `SELECT *`, then the rowid) in rowid order, after
   * rowid `after`, at most `limit`: one short read. The rowid, unique and an integer whatever
   * the key column holds, is what makes every read advance. `where`: only the rows of a change
   * window (bots/change-window.ts). Each row goes to `visit` as SQLite steps to it (nothing
   * awaits inside), so it is garbage once visited instead of a whole chunk held at once.
   * Returns how many rows there were.
   */
  eachInChunk(
    table: string,
    after: bigint,
    limit: number,
    where: { where: string; params: readonly unknown[] } | undefined,
    visit: (row: unknown[]) => void,
  ): number {
    const filter = where === undefined ? '' : ` AND (${where.where})`;
    // The visitor's own errors pass through as they are; only SQLite's are described as the file's.
    let visitorError: { error: unknown } | undefined;
    const count = this.guard(() => {
      let seen = 0;
      const rows = this.db
        .prepare<unknown[], unknown[]>(
          `SELECT *, rowid FROM "${table}" WHERE rowid > ?${filter} ORDER BY rowid LIMIT ?`,
        )
        .raw(true)
        .iterate(after, ...(where?.params ?? []), limit);
      for (const row of rows) {
        seen += 1;
        try {
          visit(row);
        } catch (error) {
          visitorError = { error };
          break; // leaving the loop ends the statement
        }
      }
      return seen;
    });
    if (visitorError !== undefined) throw visitorError.error;
    return count;
  }

  /**
   * Keys that more than one row of the table holds (a table without a primary key allows it):
   * the first such row in rowid order is taken, the others are rejected. Empty at once when the
   * key is the table's INTEGER PRIMARY KEY, which cannot repeat.
   */
  duplicateKeys(table: string, key: string): ReadonlySet<number> {
    const cached = this.duplicates.get(table);
    if (cached) return cached;
    const found = this.guard(() => {
      const pk = this.db
        .prepare<[], { name: string; type: string; pk: bigint }>(
          `SELECT name, type, pk FROM pragma_table_info('${table}') WHERE pk > 0`,
        )
        .all();
      if (pk.length === 1 && pk[0]!.name === key && pk[0]!.type.toUpperCase() === 'INTEGER') return new Set<number>();
      const rows = this.db
        .prepare<[], unknown[]>(
          `SELECT "${key}" FROM "${table}" WHERE typeof("${key}") = 'integer' GROUP BY "${key}" HAVING count(*) > 1`,
        )
        .raw(true)
        .all();
      return new Set(rows.map((r) => Number(r[0])));
    });
    this.duplicates.set(table, found);
    return found;
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

  /** The table's rowids (= ids where the id is an INTEGER PRIMARY KEY, as windows need), sorted, from an index. */
  rowids(table: string): number[] {
    return this.db
      .prepare<[], unknown[]>(`SELECT rowid FROM "${table}" ORDER BY rowid`)
      .raw(true)
      .all()
      .map((r) => Number(r[0]));
  }

  count(table: string): number {
    return this.guard(() =>
      Number(this.db.prepare<[], { n: bigint }>(`SELECT count(*) AS n FROM "${table}"`).get()?.n ?? 0),
    );
  }

  /**
   * For verify: rows of a table whose key is a number (raw arrays: the columns of `SELECT *`,
   * then the rowid) in key order, then rowid order, after `after`, at most `limit`: one short read,
   * as `eachInChunk`. Of rows sharing a key, the first in rowid order is the one the sync takes.
   * Returns how many rows there were.
   */
  eachInKeyOrder(
    table: string,
    key: string,
    after: { key: unknown; rowid: bigint } | undefined,
    limit: number,
    visit: (row: unknown[]) => void,
  ): number {
    const numeric = `typeof("${key}") IN ('integer', 'real')`;
    const sql =
      after === undefined
        ? `SELECT *, rowid FROM "${table}" WHERE ${numeric} ORDER BY "${key}", rowid LIMIT ?`
        : `SELECT *, rowid FROM "${table}" WHERE ${numeric} AND ("${key}", rowid) > (?, ?) ORDER BY "${key}", rowid LIMIT ?`;
    const params = after === undefined ? [limit] : [after.key, after.rowid, limit];
    return this.guard(() => {
      let seen = 0;
      for (const row of this.db
        .prepare<unknown[], unknown[]>(sql)
        .raw(true)
        .iterate(...params)) {
        seen += 1;
        visit(row);
      }
      return seen;
    });
  }

  /** Rows whose key is no number (NULL, text, a blob): the sync rejects every one of them. */
  countNonNumericKeys(table: string, key: string): number {
    return this.guard(() =>
      Number(
        this.db
          .prepare<[], { n: bigint }>(
            `SELECT count(*) AS n FROM "${table}" WHERE typeof("${key}") NOT IN ('integer', 'real')`,
          )
          .get()?.n ?? 0,
      ),
    );
  }

  private plan(mapping: TableMapping): ColumnPlan {
    const columns = this.db
      .prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${mapping.source}')`)
      .all()
      .map((r) => r.name);
    const missing = mapping.required.filter((c) => !columns.includes(c));
    try {
      this.db.prepare(`SELECT rowid FROM "${mapping.source}" LIMIT 0`);
    } catch (error) {
      throw new PermanentJobError(
        `bot ${this.bot}: ${this.file}: table ${mapping.source} has no rowid (WITHOUT ROWID): not a FreqTrade table`,
        { cause: error },
      );
    }
    if (missing.length > 0) {
      throw new PermanentJobError(
        `bot ${this.bot}: ${this.file}: table ${mapping.source} lacks column(s) ${missing.join(', ')}; this is not a FreqTrade schema we know`,
      );
    }
    return planColumns(mapping, columns);
  }

  /** Runs a read of the file; its SQLite errors become errors naming the bot and the file. */
  guard<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw describeBotDatabaseError(this.bot, this.file, error);
    }
  }
}
