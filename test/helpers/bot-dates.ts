import Database from 'better-sqlite3';

/** A date FreqTrade writes as text (naive UTC, sorting as its time). */
const DATE = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/;

export interface DatedCell {
  table: string;
  column: string;
  date: string;
  /** The trade the row belongs to (trades: its id; orders and custom data: ft_trade_id); none for a pair lock. */
  trade: number | undefined;
}

/**
 * Every date of a FreqTrade database file, with the trade its row belongs to; a pair lock's end
 * aside, which FreqTrade sets ahead on purpose.
 */
export function botDates(file: string): DatedCell[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all();
    const cells: DatedCell[] = [];
    for (const { name: table } of tables)
      for (const row of db.prepare<[], Record<string, unknown>>(`SELECT * FROM "${table}"`).all()) {
        const owner = table === 'trades' ? row.id : row.ft_trade_id;
        for (const [column, value] of Object.entries(row))
          if (column !== 'lock_end_time' && typeof value === 'string' && DATE.test(value))
            cells.push({ table, column, date: value, trade: typeof owner === 'number' ? owner : undefined });
      }
    return cells;
  } finally {
    db.close();
  }
}
