-- An operator's acceptance of a bot's reset from the board's /bots page: who accepted it, when,
-- which choice (the old rows archived or deleted), and the bot-sync job that carries it out.
CREATE TABLE bot_reset_acceptances (
  id BIGSERIAL PRIMARY KEY,
  instance_id TEXT NOT NULL,
  kept VARCHAR(10) NOT NULL CHECK (kept IN ('archive', 'delete')),
  accepted_by TEXT NOT NULL,
  accepted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  queue TEXT NOT NULL,
  job_id TEXT NOT NULL
);
CREATE INDEX bot_reset_acceptances_instance_idx ON bot_reset_acceptances (instance_id, accepted_at DESC);
