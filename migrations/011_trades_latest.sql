-- migrate: no-transaction
-- A bot's latest trade by opening time (bots.strategy_name follows it: bot-sync asks after every
-- sync that wrote a trade): an index lookup instead of a sort of every trade of the bot.
-- Built concurrently: syncs keep writing trades while it builds (src/migrate/migrate.ts).
CREATE INDEX CONCURRENTLY idx_trades_bot_latest ON trades_aggregated (bot_id, open_date DESC NULLS LAST);
