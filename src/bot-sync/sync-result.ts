/** What a bot-sync run reports: rows inserted, updated, deleted and unchanged, per table and in all. */
export interface TableCounts {
  inserted: number;
  updated: number;
  deleted: number;
  unchanged: number;
}

export interface BotSyncResult extends TableCounts {
  bot: string;
  ms: number;
  trades: TableCounts;
  orders: TableCounts;
  /**
   * The bot's other tables (pairlocks, trade_custom_data, wallet_history, key_value_store), per
   * PostgreSQL table, where the source has them; the top-level counts are trades and orders only.
   */
  otherTables?: Record<string, TableCounts>;
  /** Rows that could not be taken (an order of a trade that does not exist, a row without an id); see `rejects`. */
  rejected: number;
  /** Set when an accepted reset ended the bot's epoch: its old rows archived or deleted. */
  reset?: { kept: 'archive' | 'delete'; epoch: number; trades: number; orders: number };
  /** Why every row was compared; absent for a first sync, a skip, and a sync by change windows. */
  fullCompare?: string;
  /** Set when nothing was read: the source was unchanged since the last sync. */
  skipped?: 'unchanged';
}

/** What a first sync or a merge wrote, per table, and the rows it rejected. */
export interface ReadCounts {
  trades: TableCounts;
  orders: TableCounts;
  rejected: number;
}

export const emptyCounts = (): TableCounts => ({ inserted: 0, updated: 0, deleted: 0, unchanged: 0 });

/** Top-level counts are trades and orders together. */
export function sumCounts(trades: TableCounts, orders: TableCounts): TableCounts {
  return {
    inserted: trades.inserted + orders.inserted,
    updated: trades.updated + orders.updated,
    deleted: trades.deleted + orders.deleted,
    unchanged: trades.unchanged + orders.unchanged,
  };
}
