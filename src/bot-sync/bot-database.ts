import { describeBotDatabaseError, openBotDatabaseFile, type SqliteDb } from '../bots/bot-database-file.js';
import { forgetSchema, keyedByRowid, prepareCached, tableInfo } from '../bots/sqlite-cache.js';
import { PermanentJobError } from '../errors.js';
import { ordersMapping, otherMappings, tradesMapping, type TableMapping } from './freqtrade-columns.js';
import { planColumns, type ColumnPlan } from './column-values.js';

/** The file's schema as one read sees it. */
interface SchemaRead {
  /** `PRAGMA schema_version`: SQLite bumps it with every change of the schema. */
  version: bigint;
  /** sqlite_master's rows (every table's and index's name, root page and SQL), as text. */
  master: string;
  tables: ReadonlySet<string>;
}

/** What a BotDatabase planned from the file's schema. */
interface SchemaPlan {
  read: SchemaRead;
  trades: ColumnPlan;
  orders: ColumnPlan | undefined;
  others: readonly TableMapping[];
}

/**
 * A bot's FreqTrade database, read-only. Every read is a short statement of its own (a chunk of
 * rows), never a transaction held across awaits, so FreqTrade's writer is never kept waiting.
 * Its plans, columns and statements are the schema's: a handle kept open for the next run
 * (bot-database-cache.ts) plans again when the schema changed (`refresh`).
 */
export class BotDatabase {
  private schema: SchemaPlan;
  /** Per run (the rows' keys change between runs): `refresh` empties it. */
  private readonly duplicates = new Map<string, ReadonlySet<number>>();
  private readonly columns = new Map<string, readonly string[]>();

  private constructor(
    /** The open file, for reads of their own (change windows: bots/change-window.ts). */
    readonly db: SqliteDb,
    readonly bot: string,
    readonly file: string,
  ) {
    this.schema = this.planSchema();
  }

  get trades(): ColumnPlan {
    return this.schema.trades;
  }

  get orders(): ColumnPlan | undefined {
    return this.schema.orders;
  }

  /** The bot's other tables its FreqTrade version has (pairlocks since 2020.12, ...), in otherMappings' order. */
  get others(): readonly TableMapping[] {
    return this.schema.others;
  }

  /**
   * Makes a handle kept open since an earlier run as one opened now, or says it cannot (false:
   * the caller opens the file afresh). What that run learnt of the rows is forgotten, and with
   * `pagesMayBeStale` the pages SQLite kept too: a file copied over this one in place, as a reset
   * may be, bypasses the WAL (and may keep the header) by which SQLite tells its pages changed.
   * When the schema changed (a FreqTrade upgrade
   * added a column, a migration rebuilt a table), what was read of it and the statements prepared
   * against it are dropped and the tables planned again (failing as an open would on a table no
   * longer FreqTrade's). A schema changed without its version moving is another file copied in
   * place: SQLite would keep the tables' old root pages, so only a fresh open reads it right.
   */
  refresh(pagesMayBeStale: boolean): boolean {
    this.duplicates.clear();
    if (pagesMayBeStale) this.guard(() => prepareCached(this.db, 'PRAGMA shrink_memory', 'objects').run());
    const now = this.readSchema();
    if (now.master === this.schema.read.master && now.version === this.schema.read.version) return true;
    if (now.version === this.schema.read.version) return false;
    forgetSchema(this.db);
    this.columns.clear();
    this.schema = this.planSchema(now);
    return true;
  }

  /** The schema's version and sqlite_master in one snapshot, so they agree. */
  private readSchema(): SchemaRead {
    return this.guard(() => {
      const outer = this.db.inTransaction;
      if (!outer) this.db.exec('BEGIN');
      try {
        const version = prepareCached<[], unknown[]>(this.db, 'PRAGMA schema_version', 'raw').get()?.[0];
        const rows = prepareCached<[], unknown[]>(
          this.db,
          'SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY rowid',
          'raw',
        ).all();
        return {
          version: BigInt(version as bigint | number),
          master: JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)),
          tables: new Set(rows.filter((r) => r[0] === 'table').map((r) => String(r[1]))),
        };
      } finally {
        if (!outer) this.db.exec('COMMIT');
      }
    });
  }

  private planSchema(read = this.readSchema()): SchemaPlan {
    const { tables } = read;
    if (!tables.has('trades'))
      throw new PermanentJobError(`bot ${this.bot}: ${this.file} has no trades table (is it a FreqTrade database?)`);
    return {
      read,
      trades: this.plan(tradesMapping),
      orders: tables.has('orders') ? this.plan(ordersMapping) : undefined,
      // Planned now, so a table that is not FreqTrade's (a required column missing) fails before any write.
      others: otherMappings.filter((m) => tables.has(m.source) && this.plan(m) !== undefined),
    };
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

  /** The columns `SELECT *` returns for a table, in order (read once per open file and schema). */
  columnsOf(table: string): string[] {
    let columns = this.columns.get(table);
    if (columns === undefined) {
      columns = this.guard(() =>
        prepareCached(this.db, `SELECT * FROM "${table}" LIMIT 0`, 'objects')
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
      const rows = prepareCached<unknown[], unknown[]>(
        this.db,
        `SELECT *, rowid FROM "${table}" WHERE rowid > ?${filter} ORDER BY rowid LIMIT ?`,
        'raw',
      ).iterate(after, ...(where?.params ?? []), limit);
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
      if (keyedByRowid(this.db, table, key)) return new Set<number>();
      const rows = prepareCached<[], unknown[]>(
        this.db,
        `SELECT "${key}" FROM "${table}" WHERE typeof("${key}") = 'integer' GROUP BY "${key}" HAVING count(*) > 1`,
        'raw',
      ).all();
      return new Set(rows.map((r) => Number(r[0])));
    });
    this.duplicates.set(table, found);
    return found;
  }

  /** Which of these keys the table has now. */
  existingKeys(table: string, key: string, keys: readonly number[]): Set<number> {
    if (keys.length === 0) return new Set();
    return this.guard(() => {
      const rows = prepareCached<[string], unknown[]>(
        this.db,
        `SELECT "${key}" FROM "${table}" WHERE "${key}" IN (SELECT value FROM json_each(?))`,
        'raw',
      ).all(JSON.stringify(keys));
      return new Set(rows.map((r) => Number(r[0])));
    });
  }

  /** The table's rowids (= ids where the id is an INTEGER PRIMARY KEY, as windows need), sorted, from an index. */
  rowids(table: string): number[] {
    return prepareCached<[], unknown[]>(this.db, `SELECT rowid FROM "${table}" ORDER BY rowid`, 'raw')
      .all()
      .map((r) => Number(r[0]));
  }

  count(table: string): number {
    return this.guard(() =>
      Number(
        prepareCached<[], { n: bigint }>(this.db, `SELECT count(*) AS n FROM "${table}"`, 'objects').get()?.n ?? 0,
      ),
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
      for (const row of prepareCached<unknown[], unknown[]>(this.db, sql, 'raw').iterate(...params)) {
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
        prepareCached<[], { n: bigint }>(
          this.db,
          `SELECT count(*) AS n FROM "${table}" WHERE typeof("${key}") NOT IN ('integer', 'real')`,
          'objects',
        ).get()?.n ?? 0,
      ),
    );
  }

  private plan(mapping: TableMapping): ColumnPlan {
    const columns = tableInfo(this.db, mapping.source).map((c) => c.name);
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
