-- Users whose email (or firebase uid) another user held when they were written: parked here,
-- in the transaction that rejected them, until the holder gives it up. Any later write of a user
-- that releases an address applies the parked users waiting for it (src/users/upsert-users.ts),
-- and user-reconcile reads every parked _id again from MongoDB, so a rejected user is never lost
-- behind a scan's start. A user applied (or written anew) leaves the table.
CREATE TABLE user_conflicts (
  mongo_id TEXT NOT NULL,
  mongo_id_type TEXT NOT NULL CHECK (mongo_id_type IN ('objectId', 'string', 'number')),
  email_key TEXT NOT NULL,
  firebase_uid TEXT,
  -- The mapped user (src/users/map-user.ts UserRow), applied as is once the address is free.
  user_row JSONB NOT NULL,
  raw TEXT,
  reason TEXT NOT NULL,
  parked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (mongo_id, mongo_id_type)
);
CREATE INDEX user_conflicts_email_key ON user_conflicts (email_key);
CREATE INDEX user_conflicts_firebase_uid ON user_conflicts (firebase_uid) WHERE firebase_uid IS NOT NULL;

-- A batch applies its moves against its own final state: A leaving a@ while B takes it, or two
-- users swapping addresses, are one statement whose rows pass through a moment where two hold
-- one address. Checked at the end of each statement (DEFERRABLE INITIALLY IMMEDIATE) instead of
-- row by row, the final state is what must be unique.
DROP INDEX users_email_key_key;
ALTER TABLE users ADD CONSTRAINT users_email_key_key UNIQUE (email_key) DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE users DROP CONSTRAINT users_firebase_uid_key,
  ADD CONSTRAINT users_firebase_uid_key UNIQUE (firebase_uid) DEFERRABLE INITIALLY IMMEDIATE;
