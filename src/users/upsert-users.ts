import type pg from 'pg';
import { takeTransactionLocks } from '../connections/advisory-locks.js';
import type { Item, Reject, UpsertOutcome } from '../write-batch.js';
import { idKey, showId, type MongoId } from '../mongo-values/bson-values.js';
import type { UserRow } from './map-user.js';

/**
 * One statement for the users already in PostgreSQL: update those whose values differ (never
 * with an older updatedAt than the row has, so a late dual-write or import cannot roll a user
 * back); one for the new ones. A missing date keeps the row's own. Both return the users written.
 * Emails and uids are unique at the end of each statement (migration 014), so the moves of one
 * batch (a swap included) land in the first, and the new users taking freed addresses after it.
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
  RETURNING u.mongo_id, u.mongo_id_type
),
inserted AS (
  INSERT INTO users (mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, created_at, updated_at)
  SELECT mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, coalesce(created_at, now()),
    coalesce(updated_at, created_at, now())
  FROM input i
  ON CONFLICT (mongo_id, mongo_id_type) DO NOTHING
  RETURNING mongo_id, mongo_id_type
)
SELECT mongo_id, mongo_id_type, false AS inserted FROM updated
UNION ALL SELECT mongo_id, mongo_id_type, true FROM inserted`;

/** New users only (none of these _ids was in PostgreSQL a moment ago): no UPDATE to plan. */
const INSERT_USERS = `
INSERT INTO users (mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, created_at, updated_at)
SELECT mongo_id, mongo_id_type, email, email_key, firebase_uid, name, role, paper_balance, coalesce(created_at, now()),
  coalesce(updated_at, created_at, now())
FROM ${INPUT}
ON CONFLICT (mongo_id, mongo_id_type) DO NOTHING
RETURNING mongo_id, mongo_id_type, true AS inserted`;

/**
 * Users already in PostgreSQL holding one of these _ids, emails or firebase uids, and whether
 * the row is newer than the document of its _id (`stale`: the document changes nothing). One
 * scalar subquery per key, so each is an index probe: written as \`= ANY\` or a join, the plan
 * was a scan of every user per batch (hashed ANY lists look cheap to the planner), 40 ms a batch
 * at 100,000 users and growing with the table.
 */
const FOUND = `
SELECT (u).mongo_id, (u).mongo_id_type, (u).email, (u).email_key, (u).firebase_uid,
  coalesce((u).updated_at > document_updated_at, false) AS stale FROM (
  SELECT (SELECT x FROM users x WHERE x.mongo_id = k.id AND x.mongo_id_type = k.type) AS u, k.updated_at AS document_updated_at
    FROM unnest($1::text[], $2::text[], $5::timestamptz[]) AS k(id, type, updated_at)
  UNION ALL SELECT (SELECT x FROM users x WHERE x.email_key = k), NULL::timestamptz FROM unnest($3::text[]) AS k
  UNION ALL SELECT (SELECT x FROM users x WHERE x.firebase_uid = k), NULL::timestamptz FROM unnest($4::text[]) AS k
) found
WHERE (u).mongo_id IS NOT NULL`;

/** Parked users (migration 014) waiting for one of these emails or uids, which the batch frees. */
const PARKED_WAITING = `
SELECT user_row, raw FROM user_conflicts
WHERE email_key = ANY($1::text[]) OR firebase_uid = ANY($2::text[])`;

const PARK = `
INSERT INTO user_conflicts (mongo_id, mongo_id_type, email_key, firebase_uid, user_row, raw, reason)
SELECT id, type, email_key, uid, user_row::jsonb, raw, reason
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
    AS t(id, type, email_key, uid, user_row, raw, reason)
ON CONFLICT (mongo_id, mongo_id_type) DO UPDATE SET email_key = EXCLUDED.email_key,
  firebase_uid = EXCLUDED.firebase_uid, user_row = EXCLUDED.user_row, raw = EXCLUDED.raw, reason = EXCLUDED.reason
WHERE (user_conflicts.user_row, user_conflicts.reason) IS DISTINCT FROM (EXCLUDED.user_row, EXCLUDED.reason)`;

const UNPARK = `
DELETE FROM user_conflicts c USING unnest($1::text[], $2::text[]) AS k(id, type)
WHERE c.mongo_id = k.id AND c.mongo_id_type = k.type`;

/** A user to write: one of the batch's documents, or a parked user the batch may let in. */
interface Candidate {
  row: UserRow;
  /** The batch's item; undefined for a parked user (counted and rejected where it was read). */
  item?: Item<UserRow>;
  raw: () => string | null;
}

/** A users row as PostgreSQL holds it now. */
interface Stored {
  id: MongoId;
  email: string;
  emailKey: string;
  firebaseUid: string | null;
}

interface StoredUsers {
  byId: Map<string, Stored>;
  /** _ids whose row is newer than the candidate's document. */
  stale: Set<string>;
}

/** Who holds an address at the end of the batch: a row that stays as it is, or a candidate. */
interface Claim {
  id: MongoId;
  /** The email as its holder spells it. */
  email: string;
  staying: boolean;
}

/**
 * Emails are unique by their emailKey (map-user.ts), firebase uids unique. A batch is checked
 * against its own final state: a user leaving an address frees it for another in the same batch
 * (a move, a swap), and only two users holding one address at the end conflict. Then the row
 * that keeps its address keeps it, else the user that already holds it, else the first in the
 * batch's order; the others are rejected, naming both (merging two accounts is a human decision,
 * not an import's). A rejected user is parked (user_conflicts, same transaction) and applied by
 * the first later write that frees its address; user-reconcile also reads it again each run.
 * _ids are keys with their type: `3` and `"3"` are two users.
 */
export async function upsertUsers(client: pg.ClientBase, items: readonly Item<UserRow>[]): Promise<UpsertOutcome> {
  const batch = new Map<string, Candidate>();
  for (const item of items) batch.set(idKey(item.row.id), { row: item.row, item, raw: item.raw }); // a later copy of one _id wins

  // A batch that moves or contests addresses decides under their locks, taken before the
  // decision is made again: two concurrent writes of a swap (each seeing the other's old
  // address, each parking itself) would otherwise leave both parked. Batches that only write
  // their users' own addresses take no lock; a concurrent claim of one address fails the later
  // statement (unique), and writeBatch retries its rows one by one, seeing the earlier commit.
  const locked = new Set<string>();
  for (;;) {
    const plan = await planBatch(client, batch);
    const unlocked = [...plan.involved].filter((address) => !locked.has(address));
    if (unlocked.length === 0) return writePlan(client, plan);
    await takeTransactionLocks(client, 'user-address', unlocked);
    for (const address of unlocked) locked.add(address);
  }
}

interface Plan {
  candidates: Map<string, Candidate>;
  stored: StoredUsers;
  accepted: Set<string>;
  reasons: Map<string, string>;
  /** Addresses (`email:<key>`, `uid:<uid>`) moved or contested: held, wanted or freed by a mover or a reject. */
  involved: Set<string>;
}

async function planBatch(client: pg.ClientBase, batch: ReadonlyMap<string, Candidate>): Promise<Plan> {
  const candidates = new Map(batch);
  // Parked users waiting for an address the batch frees join it, and may free others in turn.
  let stored = await findStored(client, [...candidates.values()]);
  for (;;) {
    const freed = freedAddresses(candidates, stored);
    if (freed.emailKeys.length === 0 && freed.uids.length === 0) break;
    const waiting = (await parkedWaiting(client, freed)).filter((c) => !candidates.has(idKey(c.row.id)));
    if (waiting.length === 0) break;
    for (const candidate of waiting) candidates.set(idKey(candidate.row.id), candidate);
    stored = await findStored(client, [...candidates.values()]);
  }
  const { accepted, reasons } = resolveAddresses(candidates, stored);
  const involved = new Set<string>();
  for (const [key, { row }] of candidates) {
    const held = stored.byId.get(key);
    const moves =
      held !== undefined &&
      !stored.stale.has(key) &&
      (held.emailKey !== row.emailKey || (held.firebaseUid !== null && held.firebaseUid !== row.firebaseUid));
    if (!moves && !reasons.has(key) && batch.has(key)) continue;
    for (const address of [
      `email:${row.emailKey}`,
      row.firebaseUid === null ? undefined : `uid:${row.firebaseUid}`,
      held === undefined ? undefined : `email:${held.emailKey}`,
      held?.firebaseUid == null ? undefined : `uid:${held.firebaseUid}`,
    ])
      if (address !== undefined) involved.add(address);
  }
  return { candidates, stored, accepted, reasons, involved };
}

async function writePlan(
  client: pg.ClientBase,
  { candidates, stored, accepted, reasons }: Plan,
): Promise<UpsertOutcome> {
  const written = new Map<string, boolean>(); // idKey -> inserted (else updated)
  const acceptedRows = [...accepted].map((key) => candidates.get(key)!.row);
  for (const [sql, rows] of [
    [UPSERT_USERS, acceptedRows.filter((r) => stored.byId.has(idKey(r.id)))],
    // A first import (every _id new) inserts without the UPDATE, which a planner without
    // statistics on users (a fresh table) ran as a scan of every user per batch.
    [INSERT_USERS, acceptedRows.filter((r) => !stored.byId.has(idKey(r.id)))],
  ] as const) {
    if (rows.length === 0) continue;
    const result = await client.query<{ mongo_id: string; mongo_id_type: MongoId['type']; inserted: boolean }>(sql, [
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
    for (const row of result.rows) written.set(idKey({ text: row.mongo_id, type: row.mongo_id_type }), row.inserted);
  }

  const rejected = [...reasons].map(([key, reason]) => ({ candidate: candidates.get(key)!, reason }));
  await park(client, rejected);
  // A parked user older than its row is obsolete; a batch's older document leaves a parked one be.
  const settled = [...candidates].filter(
    ([key, c]) => accepted.has(key) || (c.item === undefined && stored.stale.has(key)),
  );
  await unpark(
    client,
    settled.map(([, c]) => c.row.id),
  );

  let inserted = 0;
  let updated = 0;
  for (const [key, wasInserted] of written) {
    if (candidates.get(key)?.item === undefined) continue; // a parked user let in: counted where it was read
    if (wasInserted) inserted++;
    else updated++;
  }
  const rejects: Reject[] = rejected.flatMap(({ candidate, reason }) =>
    candidate.item === undefined ? [] : [{ position: candidate.item.position, reason, raw: candidate.item.raw() }],
  );
  return { inserted, updated, rejects };
}

async function findStored(client: pg.ClientBase, candidates: readonly Candidate[]): Promise<StoredUsers> {
  const found = await client.query<{
    mongo_id: string;
    mongo_id_type: MongoId['type'];
    email: string;
    email_key: string;
    firebase_uid: string | null;
    stale: boolean;
  }>(FOUND, [
    candidates.map((c) => c.row.id.text),
    candidates.map((c) => c.row.id.type),
    candidates.map((c) => c.row.emailKey),
    candidates.flatMap((c) => (c.row.firebaseUid === null ? [] : [c.row.firebaseUid])),
    candidates.map((c) => c.row.updatedAt),
  ]);
  const byId = new Map<string, Stored>();
  const stale = new Set<string>();
  for (const row of found.rows) {
    const id: MongoId = { text: row.mongo_id, type: row.mongo_id_type };
    byId.set(idKey(id), { id, email: row.email, emailKey: row.email_key, firebaseUid: row.firebase_uid });
    if (row.stale) stale.add(idKey(id));
  }
  return { byId, stale };
}

/** The addresses (email keys, uids) that candidates hold in PostgreSQL and are leaving. */
function freedAddresses(
  candidates: ReadonlyMap<string, Candidate>,
  stored: StoredUsers,
): { emailKeys: string[]; uids: string[] } {
  const emailKeys: string[] = [];
  const uids: string[] = [];
  for (const [key, { row }] of candidates) {
    const held = stored.byId.get(key);
    if (held === undefined || stored.stale.has(key)) continue;
    if (held.emailKey !== row.emailKey) emailKeys.push(held.emailKey);
    if (held.firebaseUid !== null && held.firebaseUid !== row.firebaseUid) uids.push(held.firebaseUid);
  }
  return { emailKeys, uids };
}

async function parkedWaiting(
  client: pg.ClientBase,
  freed: { emailKeys: string[]; uids: string[] },
): Promise<Candidate[]> {
  const result = await client.query<{ user_row: UserRow; raw: string | null }>(PARKED_WAITING, [
    freed.emailKeys,
    freed.uids,
  ]);
  return result.rows.map(({ user_row, raw }) => ({ row: user_row, raw: () => raw }));
}

/**
 * Which candidates can be written: those whose documents are not older than their rows, less
 * those that would share an email or uid with another user at the end. Rejecting one leaves
 * its row as it is, which may take an address back from another candidate: repeated until
 * no two holders remain. Returns the accepted _ids and, per rejected _id, why.
 */
function resolveAddresses(
  candidates: ReadonlyMap<string, Candidate>,
  stored: StoredUsers,
): { accepted: Set<string>; reasons: Map<string, string> } {
  const accepted = new Set([...candidates.keys()].filter((key) => !stored.stale.has(key)));
  const reasons = new Map<string, string>();
  for (;;) {
    const emails = new Map<string, Claim[]>();
    const uids = new Map<string, Claim[]>();
    const claim = (map: Map<string, Claim[]>, address: string | null, holder: Claim) => {
      if (address === null) return;
      const claims = map.get(address);
      if (claims === undefined) map.set(address, [holder]);
      else claims.push(holder);
    };
    for (const [key, row] of stored.byId) {
      if (accepted.has(key)) continue;
      claim(emails, row.emailKey, { id: row.id, email: row.email, staying: true });
      claim(uids, row.firebaseUid, { id: row.id, email: row.email, staying: true });
    }
    for (const key of accepted) {
      const { row } = candidates.get(key)!;
      claim(emails, row.emailKey, { id: row.id, email: row.email, staying: false });
      claim(uids, row.firebaseUid, { id: row.id, email: row.email, staying: false });
    }
    const rejected = new Set<string>();
    const lose = (loser: Claim, reason: string) => {
      const key = idKey(loser.id);
      if (loser.staying || rejected.has(key)) return;
      rejected.add(key);
      reasons.set(key, reason);
    };
    for (const [address, claims] of emails) {
      if (claims.length < 2) continue;
      const keeper = keeperOf(claims, (id) => stored.byId.get(idKey(id))?.emailKey === address);
      for (const other of claims) {
        if (other === keeper) continue;
        const as = keeper.email === other.email ? '' : ` as ${keeper.email}`;
        lose(
          other,
          `email ${other.email} is already used by user _id ${showId(keeper.id)}${as}, so user _id ` +
            `${showId(other.id)} cannot have it (emails are unique whatever their case)`,
        );
      }
    }
    for (const [uid, claims] of uids) {
      if (claims.length < 2) continue;
      const keeper = keeperOf(claims, (id) => stored.byId.get(idKey(id))?.firebaseUid === uid);
      for (const other of claims) {
        if (other === keeper) continue;
        lose(
          other,
          `firebase uid ${uid} is already used by user _id ${showId(keeper.id)}, so user _id ${showId(other.id)} cannot have it`,
        );
      }
    }
    if (rejected.size === 0) return { accepted, reasons };
    for (const key of rejected) accepted.delete(key);
  }
}

/** Who keeps a contested address: the row that stays as it is, else the user already holding it, else the first. */
function keeperOf(claims: readonly Claim[], holdsIt: (id: MongoId) => boolean): Claim {
  return claims.find((c) => c.staying) ?? claims.find((c) => holdsIt(c.id)) ?? claims[0]!;
}

async function park(
  client: pg.ClientBase,
  rejected: readonly { candidate: Candidate; reason: string }[],
): Promise<void> {
  if (rejected.length === 0) return;
  const rows = rejected.map(({ candidate }) => candidate.row);
  await client.query(PARK, [
    rows.map((r) => r.id.text),
    rows.map((r) => r.id.type),
    rows.map((r) => r.emailKey),
    rows.map((r) => r.firebaseUid),
    rows.map((r) => JSON.stringify(r)),
    rejected.map(({ candidate }) => candidate.raw()),
    rejected.map(({ reason }) => reason),
  ]);
}

async function unpark(client: pg.ClientBase, ids: readonly MongoId[]): Promise<void> {
  if (ids.length === 0) return;
  await client.query(UNPARK, [ids.map((id) => id.text), ids.map((id) => id.type)]);
}
