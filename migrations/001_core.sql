-- Core tables. Names follow the playbook so the platform's queries keep working;
-- its traps are fixed: unbounded NUMERIC, natural keys on imported rows, no NULL owners.

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  -- MongoDB _id (hex ObjectId or the string form of another _id type): re-imports upsert on it.
  mongo_id TEXT NOT NULL UNIQUE,
  email VARCHAR(320) NOT NULL,
  firebase_uid VARCHAR(255) UNIQUE,
  name VARCHAR(255),
  role VARCHAR(50) NOT NULL DEFAULT 'user',
  paper_balance NUMERIC NOT NULL DEFAULT 10000,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Emails are unique whatever their case (Mongo allowed "A@x.io" and "a@x.io" as two users).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE strategies (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name VARCHAR(255) UNIQUE NOT NULL,
  version VARCHAR(50) NOT NULL,
  description TEXT,
  risk_level VARCHAR(20),
  is_active BOOLEAN NOT NULL DEFAULT true,
  checksum VARCHAR(64),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE bots (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  instance_id VARCHAR(255) UNIQUE NOT NULL,
  user_id UUID REFERENCES users(id) ON DELETE SET NULL,
  name VARCHAR(255),
  -- Unknown until the first sync reads the bot's trades, so nullable (the playbook's NOT NULL
  -- would stop discovery from registering a bot).
  strategy_name VARCHAR(255),
  trading_pairs JSONB NOT NULL DEFAULT '[]',
  config JSONB NOT NULL DEFAULT '{}',
  status VARCHAR(50) NOT NULL DEFAULT 'inactive',
  container_id VARCHAR(255),
  api_port INTEGER,
  dry_run BOOLEAN NOT NULL DEFAULT true,
  -- Where discovery found the bot's database, and when it last saw it / found it gone.
  db_path TEXT,
  discovered_at TIMESTAMPTZ,
  last_seen_at TIMESTAMPTZ,
  missing_since TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_bots_user ON bots (user_id);
CREATE INDEX idx_bots_status ON bots (status);

-- Input that could not be taken (a malformed export line, an orphan snapshot, ...):
-- kept with where it came from and why, so nothing is dropped silently.
CREATE TABLE rejects (
  id BIGSERIAL PRIMARY KEY,
  source VARCHAR(50) NOT NULL,        -- 'mongo-import', 'bot-sync', ...
  collection VARCHAR(100) NOT NULL,   -- collection, table or file kind
  source_ref TEXT NOT NULL,           -- file path, bot instance or database
  position TEXT NOT NULL,             -- line number, byte offset or _id
  reason TEXT NOT NULL,
  raw TEXT,
  job_id TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  UNIQUE (source, collection, source_ref, position)
);
