-- Bots held: refused for a reason only an operator (or a new file) can clear, so that no job
-- is enqueued for them on every write or schedule tick while the refusal stands.

-- Which hosts' discovery finds each bot (BOT_DISCOVERY=hosts). One row per (bot, host): two
-- hosts that both find a bot are a conflict (neither copy is synced) until one copy goes away
-- or an operator assigns the bot to a host. A host's pass replaces its own rows.
CREATE TABLE bot_host_claims (
  instance_id TEXT NOT NULL,
  host TEXT NOT NULL,
  db_path TEXT NOT NULL,
  turso_push BOOLEAN NOT NULL,
  found_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, host)
);
CREATE INDEX bot_host_claims_host_idx ON bot_host_claims (host);

-- When each host's discovery last ran: the claims of a host whose passes stopped (its workers
-- gone) stop counting once they are older than the discovery freshness.
CREATE TABLE discovery_hosts (
  host TEXT PRIMARY KEY,
  last_pass_at TIMESTAMPTZ NOT NULL
);

-- An operator's choice of the host whose copy of a bot is the real one (`ctp-etl bots assign`).
CREATE TABLE bot_assignments (
  instance_id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  assigned_by TEXT NOT NULL,
  assigned_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A bot's job refused for good (a replaced database, a corrupt file, a bad sync-config.json):
-- held until the file it was refused for changes (file_stamp) or the job succeeds.
CREATE TABLE bot_holds (
  instance_id TEXT NOT NULL,
  job TEXT NOT NULL,
  reason TEXT NOT NULL,
  message TEXT NOT NULL,
  file TEXT NOT NULL,
  file_stamp TEXT NOT NULL,
  held_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, job)
);
