import type pg from 'pg';
import type { Item, Reject, UpsertOutcome } from '../import/import-types.js';
import { idKey, showId, type MongoId } from '../mongo-values/bson-values.js';
import type { UserRow } from './map-user.js';

/**
 * One statement per batch: update the users whose values differ (never with an older
 * updatedAt than the row has, so a late dual-write or import cannot roll a user back), insert
 * the new ones. A missing date keeps the row's own. Returns the counts of each.
 */
const INPUT = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::numeric[], $9::timestamptz[], $10::timestamptz[])
    AS t(mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, created_at, updated_at)`;

const UPSERT_USERS = `
WITH input AS (SELECT * FROM ${INPUT}),
updated AS (
  UPDATE users u SET email = i.email, email_key = i.email_key, firebase_uid = i.firebase_uid, name = i.name,
    role = i.role, paper_balance = i.paper_balance, created_at = coalesce(i.created_at, u.created_at),
    updated_at = coalesce(i.updated_at, u.updated_at), imported_at = now()
  FROM input i
  WHERE u.mongo_id = i.mongo_id AND u.mongo_id_type = i.mongo_id_type
    AND (i.updated_at IS NULL OR i.updated_at >= u.updated_at)
    AND (u.email, u.email_key, u.firebase_uid, u.name, u.role, u.paper_balance, u.created_at, u.updated_at)
      IS DISTINCT FROM (i.email, i.email_key, i.firebase_uid, i.name, i.role, i.paper_balance,
        coalesce(i.created_at, u.created_at), coalesce(i.updated_at, u.updated_at))
  RETURNING u.mongo_id
),
inserted AS (
  INSERT INTO users (mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, created_at, updated_at)
  SELECT mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, coalesce(created_at, now()),
    coalesce(updated_at, created_at, now())
  FROM input i
  ON CONFLICT (mongo_id, mongo_id_type) DO NOTHING
  RETURNING mongo_id
)
SELECT (SELECT count(*) FROM updated)::int AS updated, (SELECT count(*) FROM inserted)::int AS inserted`;

/** New users only (none of these _ids was in PostgreSQL a moment ago): no UPDATE to plan. */
const INSERT_USERS = `
WITH inserted AS (
  INSERT INTO users (mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, created_at, updated_at)
  SELECT mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, coalesce(created_at, now()),
    coalesce(updated_at, created_at, now())
  FROM ${INPUT}
  ON CONFLICT (mongo_id, mongo_id_type) DO NOTHING
  RETURNING mongo_id
)
SELECT 0 AS updated, (SELECT count(*) FROM inserted)::int AS inserted`;

/**
 * Users already in PostgreSQL holding one of these _ids, emails or firebase uids. One scalar
 * subquery per key, so each is an index probe: written as \`= ANY\` or a join, the plan was a
 * scan of every user per batch (hashed ANY lists look cheap to the planner), 40 ms a batch at
 * 100,000 users and growing with the table.
 */
const FOUND = `
SELECT (u).mongo_id, (u).mongo_id_type, (u).email, (u).email_key, (u).firebase_uid FROM (
  SELECT (SELECT x FROM users x WHERE x.mongo_id = k.id AND x.mongo_id_type = k.type) AS u
    FROM unnest($1::text[], $2::text[]) AS k(id, type)
  UNION ALL SELECT (SELECT x FROM users x WHERE x.email_key = k) FROM unnest($3::text[]) AS k
  UNION ALL SELECT (SELECT x FROM users x WHERE x.firebase_uid = k) FROM unnest($4::text[]) AS k
) found
WHERE (u).mongo_id IS NOT NULL`;

interface Holder {
  id: MongoId;
  email: string;
}

/**
 * Emails are unique by their emailKey (map-user.ts), firebase uids unique: a user whose email
 * (or uid) another _id already holds is rejected, naming both. The first one in _id order (or
 * already in PostgreSQL) keeps it; merging two accounts is a human decision, not an import's.
 * _ids are keys with their type: `3` and `"3"` are two users.
 */
export async function upsertUsers(client: pg.ClientBase, items: readonly Item<UserRow>[]): Promise<UpsertOutcome> {
  const rejects: Reject[] = [];
  const latest = new Map<string, Item<UserRow>>();
  for (const item of items) latest.set(idKey(item.row.id), item); // a later copy of one _id wins
  const candidates = [...latest.values()];

  const emailOwner = new Map<string, Holder>();
  const uidOwner = new Map<string, MongoId>();
  const existing = new Set<string>();
  const found = await client.query<{
    mongo_id: string;
    mongo_id_type: MongoId['type'];
    email: string;
    email_key: string;
    firebase_uid: string | null;
  }>(FOUND, [
    candidates.map((item) => item.row.id.text),
    candidates.map((item) => item.row.id.type),
    candidates.map((item) => item.row.emailKey),
    candidates.flatMap((item) => (item.row.firebaseUid === null ? [] : [item.row.firebaseUid])),
  ]);
  for (const row of found.rows) {
    const id: MongoId = { text: row.mongo_id, type: row.mongo_id_type };
    existing.add(idKey(id));
    emailOwner.set(row.email_key, { id, email: row.email });
    if (row.firebase_uid !== null) uidOwner.set(row.firebase_uid, id);
  }

  const accepted: UserRow[] = [];
  for (const item of candidates) {
    const { row } = item;
    const key = idKey(row.id);
    const emailHolder = emailOwner.get(row.emailKey);
    const uidHolder = row.firebaseUid === null ? undefined : uidOwner.get(row.firebaseUid);
    if (emailHolder !== undefined && idKey(emailHolder.id) !== key) {
      const as = emailHolder.email === row.email ? '' : ` as ${emailHolder.email}`;
      rejects.push({
        position: item.position,
        reason:
          `email ${row.email} is already used by user _id ${showId(emailHolder.id)}${as}, so user _id ` +
          `${showId(row.id)} cannot have it (emails are unique whatever their case)`,
        raw: item.raw(),
      });
    } else if (uidHolder !== undefined && idKey(uidHolder) !== key) {
      rejects.push({
        position: item.position,
        reason: `firebase uid ${row.firebaseUid} is already used by user _id ${showId(uidHolder)}, so user _id ${showId(row.id)} cannot have it`,
        raw: item.raw(),
      });
    } else {
      emailOwner.set(row.emailKey, { id: row.id, email: row.email });
      if (row.firebaseUid !== null) uidOwner.set(row.firebaseUid, row.id);
      accepted.push(row);
    }
  }
  // A first import (every _id new) inserts without the UPDATE, which a planner without
  // statistics on users (a fresh table) ran as a scan of every user per batch.
  let inserted = 0;
  let updated = 0;
  for (const [sql, rows] of [
    [UPSERT_USERS, accepted.filter((r) => existing.has(idKey(r.id)))],
    [INSERT_USERS, accepted.filter((r) => !existing.has(idKey(r.id)))],
  ] as const) {
    if (rows.length === 0) continue;
    const result = await client.query<{ updated: number; inserted: number }>(sql, [
      rows.map((r) => r.id.text),
      rows.map((r) => r.id.type),
      rows.map((r) => r.email),
      rows.map((r) => r.emailKey),
      rows.map((r) => r.firebaseUid),
      rows.map((r) => r.name),
      rows.map((r) => r.role),
      rows.map((r) => r.paperBalance),
      rows.map((r) => r.createdAt),
      rows.map((r) => r.updatedAt),
    ]);
    inserted += result.rows[0]!.inserted;
    updated += result.rows[0]!.updated;
  }
  return { inserted, updated, rejects };
}
