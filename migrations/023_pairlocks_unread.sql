-- migrate: no-transaction
-- The pair locks bot-sync reads again on every run whatever their dates (other-tables.ts REREAD):
-- besides the active ones in force (idx_pairlocks_bot_active), those whose `active` or end
-- PostgreSQL holds as NULL (a value the sync could not read): few, found through this index
-- instead of a read of every lock of the bot. Built concurrently: syncs keep writing meanwhile.
CREATE INDEX CONCURRENTLY idx_pairlocks_bot_unread ON pairlocks (bot_id) WHERE active IS NULL OR lock_end_time IS NULL;
