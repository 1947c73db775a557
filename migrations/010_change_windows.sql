-- Change windows (src/bots/change-window.ts): a sync or push of a changed bot reads only the rows
-- FreqTrade can have changed since the last run, and compares every row at least once per
-- FULL_COMPARE_INTERVAL. What the window of the next run starts from is kept with the data.

-- bot-sync: the ids and open rows are PostgreSQL's own rows; these say when and from what.
ALTER TABLE bot_sync_state
  ADD COLUMN window_at TIMESTAMPTZ,          -- this host's clock when the last run read the file
  ADD COLUMN window_high_water TIMESTAMPTZ, -- the latest date the file held then (the bot's clock)
  ADD COLUMN full_compare_at TIMESTAMPTZ,   -- the last run that compared every row
  ADD COLUMN source_schema TEXT;            -- the tables' CREATE statements and root pages, hashed

-- turso-push: the same, the file's identity (device:inode), and the ids of the rows that were
-- open (the recorded rows are keys and hashes: they cannot say which were open).
ALTER TABLE turso_push_targets
  ADD COLUMN source_identity TEXT,
  ADD COLUMN window_at TIMESTAMPTZ,
  ADD COLUMN window_high_water TIMESTAMPTZ,
  ADD COLUMN full_compare_at TIMESTAMPTZ,
  ADD COLUMN source_schema TEXT,
  ADD COLUMN open_keys JSONB;
