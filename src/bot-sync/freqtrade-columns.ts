/**
 * How FreqTrade's columns land in PostgreSQL. Versions differ (fixtures/README.md): older ones use
 * other names for the same column (FreqTrade's persistence/migrations.py is the reference for the
 * renames), newer ones add columns. A column named here maps to its PostgreSQL column; any other
 * source column is kept in `extra` (jsonb), so nothing a newer FreqTrade writes is dropped.
 */
export type ColumnKind = 'int' | 'numeric' | 'text' | 'bool' | 'date';

export interface TableMapping {
  /** FreqTrade table name. */
  readonly source: string;
  /** PostgreSQL table name. */
  readonly target: string;
  /** Source column that identifies a row within one bot, and the PostgreSQL column it lands in. */
  readonly key: { readonly source: string; readonly target: string };
  /** PostgreSQL column -> kind; the source column has the same name unless renamed below. */
  readonly columns: Readonly<Record<string, ColumnKind>>;
  /** Older FreqTrade name -> current name (the current name wins when both exist). */
  readonly renames: Readonly<Record<string, string>>;
  /** Source column -> PostgreSQL column, where they differ for reasons other than a FreqTrade rename. */
  readonly targetNames: Readonly<Record<string, string>>;
  /** Columns that must exist in the source for the table to be read at all. */
  readonly required: readonly string[];
  /** PostgreSQL columns declared VARCHAR(n) (migrations/002): a longer value cannot be kept there. */
  readonly maxLengths: Readonly<Record<string, number>>;
  /** PostgreSQL columns declared NOT NULL besides the key: a row without a value for one is rejected. */
  readonly notNull: readonly string[];
}

/** The key columns are PostgreSQL INTEGERs: a key outside this range cannot be stored. */
export const MAX_KEY = 2_147_483_647;

export const tradesMapping: TableMapping = {
  source: 'trades',
  target: 'trades_aggregated',
  key: { source: 'id', target: 'trade_id' },
  columns: {
    exchange: 'text',
    pair: 'text',
    base_currency: 'text',
    stake_currency: 'text',
    is_open: 'bool',
    is_short: 'bool',
    leverage: 'numeric',
    trading_mode: 'text',
    open_rate: 'numeric',
    open_rate_requested: 'numeric',
    open_trade_value: 'numeric',
    close_rate: 'numeric',
    close_rate_requested: 'numeric',
    amount: 'numeric',
    amount_requested: 'numeric',
    stake_amount: 'numeric',
    max_stake_amount: 'numeric',
    fee_open: 'numeric',
    fee_open_cost: 'numeric',
    fee_open_currency: 'text',
    fee_close: 'numeric',
    fee_close_cost: 'numeric',
    fee_close_currency: 'text',
    close_profit: 'numeric',
    close_profit_abs: 'numeric',
    realized_profit: 'numeric',
    stop_loss: 'numeric',
    stop_loss_pct: 'numeric',
    initial_stop_loss: 'numeric',
    initial_stop_loss_pct: 'numeric',
    max_rate: 'numeric',
    min_rate: 'numeric',
    liquidation_price: 'numeric',
    interest_rate: 'numeric',
    funding_fees: 'numeric',
    open_date: 'date',
    close_date: 'date',
    exit_reason: 'text',
    exit_order_status: 'text',
    enter_tag: 'text',
    strategy: 'text',
    timeframe: 'int',
  },
  renames: {
    sell_reason: 'exit_reason',
    sell_order_status: 'exit_order_status',
    buy_tag: 'enter_tag',
    ticker_interval: 'timeframe',
    open_trade_price: 'open_trade_value',
  },
  targetNames: {},
  required: ['id', 'pair', 'is_open'],
  maxLengths: {
    exchange: 100,
    pair: 100,
    base_currency: 50,
    stake_currency: 50,
    trading_mode: 20,
    fee_open_currency: 50,
    fee_close_currency: 50,
    strategy: 255,
  },
  notNull: ['pair', 'is_open'],
};

export const ordersMapping: TableMapping = {
  source: 'orders',
  target: 'orders',
  key: { source: 'id', target: 'order_pk' },
  columns: {
    trade_id: 'int',
    ft_order_side: 'text',
    ft_pair: 'text',
    ft_is_open: 'bool',
    order_id: 'text',
    status: 'text',
    symbol: 'text',
    order_type: 'text',
    side: 'text',
    price: 'numeric',
    average: 'numeric',
    amount: 'numeric',
    filled: 'numeric',
    remaining: 'numeric',
    cost: 'numeric',
    stop_price: 'numeric',
    order_date: 'date',
    order_filled_date: 'date',
    order_update_date: 'date',
    ft_fee_base: 'numeric',
    ft_order_tag: 'text',
  },
  renames: {},
  targetNames: { ft_trade_id: 'trade_id' },
  required: ['id', 'ft_trade_id'],
  maxLengths: {
    ft_order_side: 25,
    ft_pair: 100,
    order_id: 255,
    status: 255,
    symbol: 100,
    order_type: 50,
    side: 25,
    ft_order_tag: 255,
  },
  // trade_id is NOT NULL too: an order without its trade is an orphan, rejected as such.
  notNull: [],
};

/*
 * The bot's other tables (FreqTrade's persistence/pairlock.py, custom_data.py, key_value_store.py,
 * wallet_history): each keyed by its own INTEGER id. Their PostgreSQL text columns are TEXT (no
 * VARCHAR limit: FreqTrade's lengths are not enforced by SQLite, and a longer value is still the
 * bot's), so only a missing NOT NULL value rejects a row.
 */

export const pairlocksMapping: TableMapping = {
  source: 'pairlocks',
  target: 'pairlocks',
  key: { source: 'id', target: 'lock_id' },
  columns: {
    pair: 'text',
    // FreqTrade 2022.8 added side ('*', 'long', 'short'); older locks hold every side, stored NULL.
    side: 'text',
    reason: 'text',
    lock_time: 'date',
    lock_end_time: 'date',
    active: 'bool',
  },
  renames: {},
  targetNames: {},
  required: ['id', 'pair'],
  maxLengths: {},
  notNull: ['pair'],
};

export const customDataMapping: TableMapping = {
  source: 'trade_custom_data',
  target: 'trade_custom_data',
  key: { source: 'id', target: 'custom_data_id' },
  columns: {
    trade_id: 'int',
    cd_key: 'text',
    cd_type: 'text',
    cd_value: 'text',
    created_at: 'date',
    updated_at: 'date',
  },
  renames: {},
  targetNames: { ft_trade_id: 'trade_id' },
  required: ['id', 'cd_key'],
  maxLengths: {},
  notNull: ['cd_key'],
};

export const walletHistoryMapping: TableMapping = {
  source: 'wallet_history',
  target: 'wallet_history',
  key: { source: 'id', target: 'balance_id' },
  columns: {
    timestamp: 'date',
    currency: 'text',
    rate: 'numeric',
    quote_currency: 'text',
    balance: 'numeric',
    total_quote: 'numeric',
    total_position_value: 'numeric',
    collateral: 'numeric',
    leverage: 'numeric',
    bot_managed: 'bool',
  },
  renames: {},
  targetNames: {},
  required: ['id', 'timestamp', 'currency'],
  maxLengths: {},
  notNull: ['timestamp', 'currency'],
};

export const keyValueMapping: TableMapping = {
  source: 'KeyValueStore',
  target: 'key_value_store',
  key: { source: 'id', target: 'kv_id' },
  columns: {
    key: 'text',
    value_type: 'text',
    string_value: 'text',
    datetime_value: 'date',
    float_value: 'numeric',
    int_value: 'int',
  },
  renames: {},
  targetNames: {},
  required: ['id', 'key'],
  maxLengths: {},
  notNull: ['key'],
};

/** The bot's tables besides trades and orders, in the order a sync writes them; each only where its version has it. */
export const otherMappings: readonly TableMapping[] = [
  pairlocksMapping,
  customDataMapping,
  walletHistoryMapping,
  keyValueMapping,
];
