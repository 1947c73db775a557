-- An order's bot is already checked by its (bot_id, trade_id) key to trades_aggregated, whose
-- bot_id references bots (deleting a bot still removes its orders, through its trades): the
-- second check of the same bot, an index lookup and a row lock on bots per order written, goes.
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_bot_id_fkey;
