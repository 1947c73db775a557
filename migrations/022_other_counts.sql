-- bot-sync's rows of a bot's other tables (pairlocks, trade_custom_data, wallet_history,
-- key_value_store) after its last good sync, per table ({"pairlocks": 12, ...}): a changed bot's
-- sync tells a deletion by comparing them with the file's counts, as trades_count does for
-- trades, instead of counting a big bot's rows in PostgreSQL every run. NULL: counted then.
ALTER TABLE bot_sync_state ADD COLUMN other_counts JSONB;
