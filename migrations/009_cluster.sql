-- Workers on several hosts: which host holds each bot's folder (NULL: the single-host setup,
-- discovered by the scheduler), and whether its sync-config.json enables Turso pushes, as that
-- host's discovery read it (the scheduler cannot read another host's files).
ALTER TABLE bots ADD COLUMN host TEXT;
ALTER TABLE bots ADD COLUMN turso_push BOOLEAN;
CREATE INDEX bots_host_idx ON bots (host) WHERE host IS NOT NULL;
