-- turso-push's windows found through indexes (src/bots/change-window.ts indexWindow), by bot-sync's
-- rules (src/bots/dates-scan.ts): a bot with more than SYNC_DATE_SCAN_ROWS trades and orders scans
-- its rows' dates only every SYNC_DATE_SCAN_INTERVAL, from the last such scan. When it ran and the
-- file's latest date then (NULL: no push since this migration, every push before it scanned:
-- window_at and window_high_water say when).
ALTER TABLE turso_push_targets
  ADD COLUMN dates_scanned_at TIMESTAMPTZ,
  ADD COLUMN dates_high_water TIMESTAMPTZ;
