-- bot-sync's windows found through indexes (src/bots/change-window.ts indexWindow): a bot with more
-- than SYNC_DATE_SCAN_ROWS rows scans its rows' dates only every SYNC_DATE_SCAN_INTERVAL, from the
-- last such scan. When it ran and the file's latest date then (NULL: no scan since this migration,
-- every run before it scanned: window_at and window_high_water say when).
ALTER TABLE bot_sync_state
  ADD COLUMN dates_scanned_at TIMESTAMPTZ,
  ADD COLUMN dates_high_water TIMESTAMPTZ;
