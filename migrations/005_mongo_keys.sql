-- Mongo _ids keep their BSON type: {"_id": 3}, {"_id": "3"} and an ObjectId and its hex string
-- are four documents, so the natural key is (mongo_id, mongo_id_type), not the text alone.
-- Types: 'objectId' (mongo_id is the hex), 'string' (the string as is) and 'number' (Int32, Int64
-- and Double, which MongoDB itself takes for one _id when their values are equal; the decimal text).
--
-- Rows written before this migration kept only the text. They are carried over with the type
-- the text can only have come from as the platform writes ids: 24 lower-case hex digits an
-- ObjectId, an integer a number, anything else a string. The next import of a document whose
-- type differs inserts its own row (or rejects it, naming the holder, if its email is taken).
ALTER TABLE users ADD COLUMN mongo_id_type TEXT;
UPDATE users SET mongo_id_type = CASE
  WHEN mongo_id ~ '^[0-9a-f]{24}$' THEN 'objectId'
  WHEN mongo_id ~ '^-?[0-9]+$' THEN 'number'
  ELSE 'string' END;
ALTER TABLE users ALTER COLUMN mongo_id_type SET NOT NULL,
  ADD CONSTRAINT users_mongo_id_type_check CHECK (mongo_id_type IN ('objectId', 'string', 'number')),
  DROP CONSTRAINT users_mongo_id_key,
  ADD CONSTRAINT users_mongo_key UNIQUE (mongo_id, mongo_id_type);

ALTER TABLE portfolio_snapshots ADD COLUMN mongo_id_type TEXT;
UPDATE portfolio_snapshots SET mongo_id_type = CASE
  WHEN mongo_id ~ '^[0-9a-f]{24}$' THEN 'objectId'
  WHEN mongo_id ~ '^-?[0-9]+$' THEN 'number'
  ELSE 'string' END;
ALTER TABLE portfolio_snapshots ALTER COLUMN mongo_id_type SET NOT NULL,
  ADD CONSTRAINT portfolio_snapshots_mongo_id_type_check CHECK (mongo_id_type IN ('objectId', 'string', 'number')),
  DROP CONSTRAINT portfolio_snapshots_mongo_id_key,
  ADD CONSTRAINT portfolio_snapshots_mongo_key UNIQUE (mongo_id, mongo_id_type);

-- Email uniqueness by one normalization, computed by the user mapper (src/users/map-user.ts) and
-- kept here: PostgreSQL's lower() and JavaScript's disagree (Greek final sigma, Turkish dotted
-- I), which made the outcome depend on how documents fell into batches. Existing rows get
-- lower(email), the same for ASCII; the next import or upsert of a user rewrites its key.
ALTER TABLE users ADD COLUMN email_key TEXT;
UPDATE users SET email_key = lower(email);
ALTER TABLE users ALTER COLUMN email_key SET NOT NULL;
DROP INDEX users_email_lower_key;
CREATE UNIQUE INDEX users_email_key_key ON users (email_key);
