import type pg from 'pg';
import type { Item, Reject, UpsertOutcome } from './import-types.js';
import type { UserRow } from './map-user.js';

/**
 * One statement per batch: update the users whose values differ (never with an older
 * updatedAt than the row has, so a late dual-write or import cannot roll a user back), insert
 * the new ones. A missing date keeps the row's own. Returns the counts of each.
 */
const UPSERT_USERS = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::timestamptz[], $8::timestamptz[])
    AS t(mongo_id, email, firebase_uid, name, role, paper_balance, created_at, updated_at)
),
updated AS (
  UPDATE users u SET email = i.email, firebase_uid = i.firebase_uid, name = i.name, role = i.role,
    paper_balance = i.paper_balance, created_at = coalesce(i.created_at, u.created_at),
    updated_at = coalesce(i.updated_at, u.updated_at), imported_at = now()
  FROM input i
  WHERE u.mongo_id = i.mongo_id
    AND (i.updated_at IS NULL OR i.updated_at >= u.updated_at)
    AND (u.email, u.firebase_uid, u.name, u.role, u.paper_balance, u.created_at, u.updated_at)
      IS DISTINCT FROM (i.email, i.firebase_uid, i.name, i.role, i.paper_balance,
        coalesce(i.created_at, u.created_at), coalesce(i.updated_at, u.updated_at))
  RETURNING u.mongo_id
),
inserted AS (
  INSERT INTO users (mongo_id, email, firebase_uid, name, role, paper_balance, created_at, updated_at)
  SELECT mongo_id, email, firebase_uid, name, role, paper_balance, coalesce(created_at, now()), coalesce(updated_at, created_at, now())
  FROM input i
  ON CONFLICT (mongo_id) DO NOTHING
  RETURNING mongo_id
)
SELECT (SELECT count(*) FROM updated)::int AS updated, (SELECT count(*) FROM inserted)::int AS inserted`;

/** Users already in PostgreSQL under another _id holding one of these emails or firebase uids. */
const TAKEN = `
SELECT mongo_id, lower(email) AS email_key, firebase_uid FROM users
WHERE lower(email) = ANY($1::text[]) OR firebase_uid = ANY($2::text[])`;

/**
 * Emails are unique without regard to case, firebase uids unique: a user whose email (or uid)
 * another _id already holds is rejected, naming the holder. The first one in _id order (or
 * already in PostgreSQL) keeps it; merging two accounts is a human decision, not an import's.
 */
export async function upsertUsers(client: pg.ClientBase, items: readonly Item<UserRow>[]): Promise<UpsertOutcome> {
  const rejects: Reject[] = [];
  const latest = new Map<string, Item<UserRow>>();
  for (const item of items) latest.set(item.row.mongoId, item); // a later copy of one _id wins
  const candidates = [...latest.values()];

  const emailOwner = new Map<string, string>();
  const uidOwner = new Map<string, string>();
  const taken = await client.query<{ mongo_id: string; email_key: string; firebase_uid: string | null }>(TAKEN, [
    candidates.map((item) => item.row.email.toLowerCase()),
    candidates.flatMap((item) => (item.row.firebaseUid === null ? [] : [item.row.firebaseUid])),
  ]);
  for (const row of taken.rows) {
    emailOwner.set(row.email_key, row.mongo_id);
    if (row.firebase_uid !== null) uidOwner.set(row.firebase_uid, row.mongo_id);
  }

  const accepted: UserRow[] = [];
  for (const item of candidates) {
    const { row } = item;
    const emailKey = row.email.toLowerCase();
    const emailHolder = emailOwner.get(emailKey);
    const uidHolder = row.firebaseUid === null ? undefined : uidOwner.get(row.firebaseUid);
    if (emailHolder !== undefined && emailHolder !== row.mongoId) {
      rejects.push({ position: item.position, reason: `email ${row.email} is already used by user _id ${emailHolder} (emails are unique whatever their case)`, raw: item.raw() });
    } else if (uidHolder !== undefined && uidHolder !== row.mongoId) {
      rejects.push({ position: item.position, reason: `firebase uid ${row.firebaseUid} is already used by user _id ${uidHolder}`, raw: item.raw() });
    } else {
      emailOwner.set(emailKey, row.mongoId);
      if (row.firebaseUid !== null) uidOwner.set(row.firebaseUid, row.mongoId);
      accepted.push(row);
    }
  }
  if (accepted.length === 0) return { inserted: 0, updated: 0, rejects };
  const result = await client.query<{ updated: number; inserted: number }>(UPSERT_USERS, [
    accepted.map((r) => r.mongoId),
    accepted.map((r) => r.email),
    accepted.map((r) => r.firebaseUid),
    accepted.map((r) => r.name),
    accepted.map((r) => r.role),
    accepted.map((r) => r.paperBalance),
    accepted.map((r) => r.createdAt),
    accepted.map((r) => r.updatedAt),
  ]);
  const counts = result.rows[0]!;
  return { inserted: counts.inserted, updated: counts.updated, rejects };
}
