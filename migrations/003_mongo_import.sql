-- Portfolio snapshots from MongoDB, keyed by their Mongo _id so a re-import is a no-op,
-- and always owned by a known user (an orphan goes to rejects, never to a NULL user).

CREATE TABLE portfolio_snapshots (
  id BIGSERIAL PRIMARY KEY,
  mongo_id TEXT NOT NULL UNIQUE,
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  total_value NUMERIC NOT NULL,
  cash_balance NUMERIC,
  positions_value NUMERIC,
  data JSONB,
  timeframe VARCHAR(20) NOT NULL DEFAULT 'adhoc',
  recorded_at TIMESTAMPTZ NOT NULL,
  imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_snapshots_user_time ON portfolio_snapshots (user_id, recorded_at);

-- Where an import stands: the last _id (live source) or byte offset and line (file source)
-- committed with the batch it follows, so a retried job resumes exactly there.
CREATE TABLE import_checkpoints (
  import_key TEXT PRIMARY KEY,          -- e.g. 'users:live' or 'portfoliosnapshots:file:<sha of path>'
  collection VARCHAR(100) NOT NULL,
  source TEXT NOT NULL,
  position JSONB NOT NULL,
  counts JSONB NOT NULL DEFAULT '{}',
  completed_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
