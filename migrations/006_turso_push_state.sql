-- turso-push's memory of each bot's target, shared by every worker. The row hashes describe
-- what the target holds only while the target's own push generation (in its _ctp_etl_target
-- table, written in the same atomic batch as a push's last rows) equals `generation` here:
-- otherwise the push compares with the target itself. NULL while a push may have written
-- without recording it.
CREATE TABLE turso_push_targets (
  instance TEXT PRIMARY KEY,
  target TEXT NOT NULL,
  generation TEXT,
  source_fingerprint TEXT,
  pushed_at TIMESTAMPTZ
);

-- Per bot and table, every row the target holds: its key (order-preserving bytes, see
-- row-keys.ts) and the MD5 of its values. Read in key order, a page at a time.
CREATE TABLE turso_push_rows (
  instance TEXT NOT NULL,
  table_name TEXT NOT NULL,
  row_key BYTEA NOT NULL,
  row_hash BYTEA NOT NULL,
  PRIMARY KEY (instance, table_name, row_key)
);
