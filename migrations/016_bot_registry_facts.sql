-- The registry holds what a bot's files say (src/bots/bot-config.ts, src/bots/bot-registry.ts):
-- what they do not say is NULL, never a default presented as a fact. Every row so far held the
-- defaults, never read from any bot: they become NULL, and the next sync of each bot fills in
-- what its config.json and database show.
ALTER TABLE bots
  ALTER COLUMN trading_pairs DROP NOT NULL,
  ALTER COLUMN trading_pairs DROP DEFAULT,
  ALTER COLUMN config DROP NOT NULL,
  ALTER COLUMN config DROP DEFAULT,
  ALTER COLUMN status DROP NOT NULL,
  ALTER COLUMN status DROP DEFAULT,
  ALTER COLUMN dry_run DROP NOT NULL,
  ALTER COLUMN dry_run DROP DEFAULT;

UPDATE bots SET trading_pairs = NULL, config = NULL, status = NULL, dry_run = NULL
WHERE trading_pairs = '[]'::jsonb AND config = '{}'::jsonb AND status = 'inactive' AND dry_run;
