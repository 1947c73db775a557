-- A bot database replaced (a FreqTrade reset, a dry-run file swapped in, an old copy restored)
-- must not wipe the bot's history. bot-sync refuses such a file until an operator accepts the
-- reset; then the bot's rows either move to an archived epoch or are deleted, and the epoch is
-- recorded either way. The live tables keep one epoch per bot (their keys stay (bot, id)); the
-- archive tables hold the ended ones, with the same columns.

-- The file's identity (device:inode) at the last good sync: another file under the same name is a sign of a reset.
ALTER TABLE bot_sync_state ADD COLUMN source_identity TEXT;

-- The epoch the bot's live rows belong to; 1 until a reset is accepted.
ALTER TABLE bots ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1;

-- One row per ended epoch: when, why, what was done with its rows.
CREATE TABLE bot_epochs (
  bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL,
  kept VARCHAR(10) NOT NULL CHECK (kept IN ('archive', 'delete')),
  trades INTEGER NOT NULL,
  orders INTEGER NOT NULL,
  findings TEXT NOT NULL,
  source_file TEXT NOT NULL,
  ended_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (bot_id, epoch)
);

-- Generated columns become plain ones (LIKE without INCLUDING GENERATED): the archive keeps values.
CREATE TABLE trades_archive (LIKE trades_aggregated INCLUDING DEFAULTS);
ALTER TABLE trades_archive DROP COLUMN id, ADD COLUMN epoch INTEGER NOT NULL;
ALTER TABLE trades_archive ADD PRIMARY KEY (bot_id, epoch, trade_id);
ALTER TABLE trades_archive ADD FOREIGN KEY (bot_id, epoch) REFERENCES bot_epochs (bot_id, epoch) ON DELETE CASCADE;

CREATE TABLE orders_archive (LIKE orders INCLUDING DEFAULTS);
ALTER TABLE orders_archive DROP COLUMN id, ADD COLUMN epoch INTEGER NOT NULL;
ALTER TABLE orders_archive ADD PRIMARY KEY (bot_id, epoch, order_pk);
ALTER TABLE orders_archive ADD FOREIGN KEY (bot_id, epoch) REFERENCES bot_epochs (bot_id, epoch) ON DELETE CASCADE;
