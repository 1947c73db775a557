-- FreqTrade's other tables, per bot, keyed by the bot and the source's own id (bot-sync:
-- src/bot-sync/freqtrade-columns.ts maps every column of every version that has the table; old
-- names mapped, unknown columns kept in `extra`). NUMERIC holds FreqTrade's floats exactly,
-- timestamps are UTC (FreqTrade writes naive UTC). Text is TEXT: SQLite never enforced
-- FreqTrade's VARCHAR lengths. Like trades_aggregated, the live tables hold the bot's current
-- epoch; an accepted reset moves its rows to the *_archive tables (src/bot-sync/end-epoch.ts).
-- These tables are new and empty here: their indexes are built plainly, in this transaction,
-- with nothing to build and no writer to block.

CREATE TABLE pairlocks (
  bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
  lock_id INTEGER NOT NULL,            -- FreqTrade's pairlocks.id
  pair TEXT NOT NULL,
  side TEXT,                           -- since FreqTrade 2022.8; NULL before (a lock of every side)
  reason TEXT,
  lock_time TIMESTAMPTZ,
  lock_end_time TIMESTAMPTZ,
  active BOOLEAN,
  extra JSONB NOT NULL DEFAULT '{}',
  row_hash TEXT NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (bot_id, lock_id)
);
-- A bot's active locks now: WHERE bot_id = $1 AND active AND lock_end_time > now().
CREATE INDEX idx_pairlocks_bot_active ON pairlocks (bot_id, lock_end_time) WHERE active;

CREATE TABLE trade_custom_data (
  bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
  custom_data_id INTEGER NOT NULL,     -- FreqTrade's trade_custom_data.id
  trade_id INTEGER,                    -- FreqTrade's ft_trade_id
  cd_key TEXT NOT NULL,
  cd_type TEXT,
  cd_value TEXT,
  created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ,
  extra JSONB NOT NULL DEFAULT '{}',
  row_hash TEXT NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (bot_id, custom_data_id)
);
-- A trade's custom data: WHERE bot_id = $1 AND trade_id = $2.
CREATE INDEX idx_custom_data_bot_trade ON trade_custom_data (bot_id, trade_id);

CREATE TABLE wallet_history (
  bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
  balance_id INTEGER NOT NULL,         -- FreqTrade's wallet_history.id
  "timestamp" TIMESTAMPTZ NOT NULL,
  currency TEXT NOT NULL,
  rate NUMERIC,
  quote_currency TEXT,
  balance NUMERIC,
  total_quote NUMERIC,
  total_position_value NUMERIC,
  collateral NUMERIC,
  leverage NUMERIC,
  bot_managed BOOLEAN,
  extra JSONB NOT NULL DEFAULT '{}',
  row_hash TEXT NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (bot_id, balance_id)
);
-- A bot's balance over time: WHERE bot_id = $1 ORDER BY "timestamp".
CREATE INDEX idx_wallet_history_bot_time ON wallet_history (bot_id, "timestamp");
-- Every bot's balance at a date: WHERE "timestamp" >= $1 AND "timestamp" < $1 + interval '1 day'.
CREATE INDEX idx_wallet_history_time ON wallet_history ("timestamp");

CREATE TABLE key_value_store (
  bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
  kv_id INTEGER NOT NULL,              -- FreqTrade's KeyValueStore.id
  key TEXT NOT NULL,
  value_type TEXT,
  string_value TEXT,
  datetime_value TIMESTAMPTZ,
  float_value NUMERIC,
  int_value INTEGER,
  extra JSONB NOT NULL DEFAULT '{}',
  row_hash TEXT NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (bot_id, kv_id)
);

-- Ended epochs' rows, as trades_archive (migration 004).
CREATE TABLE pairlocks_archive (LIKE pairlocks INCLUDING DEFAULTS);
ALTER TABLE pairlocks_archive ADD COLUMN epoch INTEGER NOT NULL;
ALTER TABLE pairlocks_archive ADD PRIMARY KEY (bot_id, epoch, lock_id);
ALTER TABLE pairlocks_archive ADD FOREIGN KEY (bot_id, epoch) REFERENCES bot_epochs (bot_id, epoch) ON DELETE CASCADE;

CREATE TABLE trade_custom_data_archive (LIKE trade_custom_data INCLUDING DEFAULTS);
ALTER TABLE trade_custom_data_archive ADD COLUMN epoch INTEGER NOT NULL;
ALTER TABLE trade_custom_data_archive ADD PRIMARY KEY (bot_id, epoch, custom_data_id);
ALTER TABLE trade_custom_data_archive ADD FOREIGN KEY (bot_id, epoch) REFERENCES bot_epochs (bot_id, epoch) ON DELETE CASCADE;

CREATE TABLE wallet_history_archive (LIKE wallet_history INCLUDING DEFAULTS);
ALTER TABLE wallet_history_archive ADD COLUMN epoch INTEGER NOT NULL;
ALTER TABLE wallet_history_archive ADD PRIMARY KEY (bot_id, epoch, balance_id);
ALTER TABLE wallet_history_archive ADD FOREIGN KEY (bot_id, epoch) REFERENCES bot_epochs (bot_id, epoch) ON DELETE CASCADE;

CREATE TABLE key_value_store_archive (LIKE key_value_store INCLUDING DEFAULTS);
ALTER TABLE key_value_store_archive ADD COLUMN epoch INTEGER NOT NULL;
ALTER TABLE key_value_store_archive ADD PRIMARY KEY (bot_id, epoch, kv_id);
ALTER TABLE key_value_store_archive ADD FOREIGN KEY (bot_id, epoch) REFERENCES bot_epochs (bot_id, epoch) ON DELETE CASCADE;
