-- FreqTrade trades and orders, aggregated per bot. NUMERIC without precision holds meme-coin
-- amounts (>= 10^10) and tiny rates exactly; timestamps are UTC (FreqTrade writes naive UTC).

CREATE TABLE trades_aggregated (
  id BIGSERIAL PRIMARY KEY,
  bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
  trade_id INTEGER NOT NULL,
  exchange VARCHAR(100),
  pair VARCHAR(100) NOT NULL,
  base_currency VARCHAR(50),
  stake_currency VARCHAR(50),
  is_open BOOLEAN NOT NULL,
  is_short BOOLEAN,
  leverage NUMERIC,
  trading_mode VARCHAR(20),
  open_rate NUMERIC,
  open_rate_requested NUMERIC,
  open_trade_value NUMERIC,
  close_rate NUMERIC,
  close_rate_requested NUMERIC,
  amount NUMERIC,
  amount_requested NUMERIC,
  stake_amount NUMERIC,
  max_stake_amount NUMERIC,
  fee_open NUMERIC,
  fee_open_cost NUMERIC,
  fee_open_currency VARCHAR(50),
  fee_close NUMERIC,
  fee_close_cost NUMERIC,
  fee_close_currency VARCHAR(50),
  close_profit NUMERIC,
  close_profit_abs NUMERIC,
  realized_profit NUMERIC,
  -- The playbook's names, kept as read-only mirrors of FreqTrade's real fields.
  profit_ratio NUMERIC GENERATED ALWAYS AS (close_profit) STORED,
  profit_abs NUMERIC GENERATED ALWAYS AS (close_profit_abs) STORED,
  stop_loss NUMERIC,
  stop_loss_pct NUMERIC,
  initial_stop_loss NUMERIC,
  initial_stop_loss_pct NUMERIC,
  max_rate NUMERIC,
  min_rate NUMERIC,
  liquidation_price NUMERIC,
  interest_rate NUMERIC,
  funding_fees NUMERIC,
  open_date TIMESTAMPTZ,
  close_date TIMESTAMPTZ,
  exit_reason TEXT,
  exit_order_status TEXT,
  enter_tag TEXT,
  strategy VARCHAR(255),
  timeframe INTEGER,
  -- Source columns this schema does not name (newer FreqTrade versions), kept rather than lost.
  extra JSONB NOT NULL DEFAULT '{}',
  row_hash TEXT NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (bot_id, trade_id)
);
CREATE INDEX idx_trades_bot_open ON trades_aggregated (bot_id, is_open);
CREATE INDEX idx_trades_open_date ON trades_aggregated (open_date);

CREATE TABLE orders (
  id BIGSERIAL PRIMARY KEY,
  bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
  order_pk INTEGER NOT NULL,           -- FreqTrade's orders.id
  trade_id INTEGER NOT NULL,           -- FreqTrade's orders.ft_trade_id
  ft_order_side VARCHAR(25),
  ft_pair VARCHAR(100),
  ft_is_open BOOLEAN,
  order_id VARCHAR(255),
  status VARCHAR(255),
  symbol VARCHAR(100),
  order_type VARCHAR(50),
  side VARCHAR(25),
  price NUMERIC,
  average NUMERIC,
  amount NUMERIC,
  filled NUMERIC,
  remaining NUMERIC,
  cost NUMERIC,
  stop_price NUMERIC,
  order_date TIMESTAMPTZ,
  order_filled_date TIMESTAMPTZ,
  order_update_date TIMESTAMPTZ,
  ft_fee_base NUMERIC,
  ft_order_tag VARCHAR(255),
  extra JSONB NOT NULL DEFAULT '{}',
  row_hash TEXT NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (bot_id, order_pk),
  FOREIGN KEY (bot_id, trade_id) REFERENCES trades_aggregated (bot_id, trade_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX idx_orders_bot_trade ON orders (bot_id, trade_id);

-- Per-bot sync state, written in the same transaction as the rows it describes.
CREATE TABLE bot_sync_state (
  bot_id UUID PRIMARY KEY REFERENCES bots(id) ON DELETE CASCADE,
  source_fingerprint TEXT,             -- what the source looked like at the last sync
  trades_count INTEGER NOT NULL DEFAULT 0,
  orders_count INTEGER NOT NULL DEFAULT 0,
  last_success_at TIMESTAMPTZ,
  last_result JSONB,
  last_error TEXT,
  last_error_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
