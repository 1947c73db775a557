-- migrate: no-transaction
-- Change windows (src/bots/change-window.ts): every sync of a bot by windows reads again the rows
-- PostgreSQL holds as ones FreqTrade may still change whatever their dates (src/jobs/bot-sync/
-- sync-state.ts asks with these very conditions): open orders (FreqTrade closes a closed trade's
-- dry-run orders at start, changing no date), open trades, and trades whose contract_size
-- FreqTrade has yet to fill. Few rows per bot: listed by index, the bot's other rows unread.
-- Built concurrently: syncs keep writing while they build (src/migrate/migrate.ts).
CREATE INDEX CONCURRENTLY idx_orders_bot_open ON orders (bot_id, order_pk) WHERE ft_is_open IS NOT FALSE;
CREATE INDEX CONCURRENTLY idx_trades_bot_unsettled ON trades_aggregated (bot_id, trade_id)
  WHERE is_open OR extra @> '{"contract_size":null}'::jsonb;
