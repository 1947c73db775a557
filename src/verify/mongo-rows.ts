import type pg from 'pg';
import type { CollectionKind } from '../import/targets.js';
import type { MongoId } from '../mongo-values/bson-values.js';
import type { SnapshotRow } from '../snapshots/map-snapshot.js';
import { snapshotOwnerSql } from '../snapshots/upsert-snapshots.js';
import type { UserRow } from '../users/map-user.js';
import { canonicalDecimal } from './canonical-decimal.js';
import { canonicalJson, canonicalTimestamp, pgTimestampText } from './canonical-values.js';

/** How a column's values are spelled canonically, so equal values compare equal as text. */
type ValueKind = 'text' | 'decimal' | 'timestamp' | 'json';

export function canonicalValue(kind: ValueKind, value: string | null): string | null {
  if (value === null) return null;
  switch (kind) {
    case 'decimal':
      return canonicalDecimal(value);
    case 'timestamp':
      return canonicalTimestamp(value);
    case 'json':
      return canonicalJson(value);
    default:
      return value;
  }
}

/**
 * A column the import writes from the document: `expected` is what the mapped row gives it
 * (`undefined`: nothing from the source, the import keeps or defaults the row's own value),
 * `resolved` what PostgreSQL resolved for the row (a snapshot's owner).
 */
interface Column<Row> {
  name: string;
  kind: ValueKind;
  expected: (row: Row, resolved: StoredRow) => string | null | undefined;
}

/** A stored row's columns as text (`row_id` null: no row under that key). */
export type StoredRow = Record<string, string | null>;

/** One table the import fills: how to read the rows a batch of mapped documents names, and what to compare. */
export interface RowCheck<Row> {
  table: string;
  id: (row: Row) => MongoId;
  columns: readonly Column<Row>[];
  /** The stored row of each mapped row, in order (row_id null when PostgreSQL has none). */
  lookup: (client: pg.ClientBase, rows: readonly Row[]) => Promise<StoredRow[]>;
}

/**
 * Each key is looked up with its own index probe (a lateral subquery): as a join, the planner
 * may scan every row per batch (see FOUND in upsert-users.ts).
 */
const USERS_LOOKUP = `
SELECT u.id::text AS row_id, u.email, u.email_key, u.firebase_uid, u.name, u.role, u.paper_balance::text AS paper_balance,
  ${pgTimestampText('u.created_at')} AS created_at, ${pgTimestampText('u.updated_at')} AS updated_at
FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(id, type, n)
LEFT JOIN LATERAL (SELECT * FROM users x WHERE x.mongo_id = k.id AND x.mongo_id_type = k.type) u ON true
ORDER BY k.n`;

/** A missing createdAt/updatedAt: the import keeps the row's own or takes now(), so there is nothing to compare. */
const usersCheck: RowCheck<UserRow> = {
  table: 'users',
  id: (row) => row.id,
  columns: [
    { name: 'email', kind: 'text', expected: (row) => row.email },
    { name: 'email_key', kind: 'text', expected: (row) => row.emailKey },
    { name: 'firebase_uid', kind: 'text', expected: (row) => row.firebaseUid },
    { name: 'name', kind: 'text', expected: (row) => row.name },
    { name: 'role', kind: 'text', expected: (row) => row.role },
    { name: 'paper_balance', kind: 'decimal', expected: (row) => row.paperBalance },
    { name: 'created_at', kind: 'timestamp', expected: (row) => row.createdAt ?? undefined },
    { name: 'updated_at', kind: 'timestamp', expected: (row) => row.updatedAt ?? undefined },
  ],
  lookup: async (client, rows) =>
    (await client.query<StoredRow>(USERS_LOOKUP, [rows.map((r) => r.id.text), rows.map((r) => r.id.type)])).rows,
};

/** `owner`: the user the snapshot's userId names now, resolved as the import resolves it. */
const SNAPSHOTS_LOOKUP = `
SELECT s.id::text AS row_id, s.user_id::text AS user_id, s.total_value::text AS total_value,
  s.cash_balance::text AS cash_balance, s.positions_value::text AS positions_value, s.data::text AS data, s.timeframe,
  ${pgTimestampText('s.recorded_at')} AS recorded_at, (${snapshotOwnerSql('k.ref', 'k.ref_type')})::text AS owner
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(id, type, ref, ref_type, n)
LEFT JOIN LATERAL (SELECT * FROM portfolio_snapshots x WHERE x.mongo_id = k.id AND x.mongo_id_type = k.type) s ON true
ORDER BY k.n`;

const snapshotsCheck: RowCheck<SnapshotRow> = {
  table: 'portfolio_snapshots',
  id: (row) => row.id,
  columns: [
    { name: 'user_id', kind: 'text', expected: (_row, stored) => stored.owner ?? null },
    { name: 'total_value', kind: 'decimal', expected: (row) => row.totalValue },
    { name: 'cash_balance', kind: 'decimal', expected: (row) => row.cashBalance },
    { name: 'positions_value', kind: 'decimal', expected: (row) => row.positionsValue },
    { name: 'data', kind: 'json', expected: (row) => row.data },
    { name: 'timeframe', kind: 'text', expected: (row) => row.timeframe },
    { name: 'recorded_at', kind: 'timestamp', expected: (row) => row.recordedAt },
  ],
  lookup: async (client, rows) =>
    (
      await client.query<StoredRow>(SNAPSHOTS_LOOKUP, [
        rows.map((r) => r.id.text),
        rows.map((r) => r.id.type),
        rows.map((r) => r.userRef.text),
        rows.map((r) => r.userRef.type),
      ])
    ).rows,
};

export const rowChecks: { readonly [K in CollectionKind]: RowCheck<unknown> } = {
  users: usersCheck as RowCheck<unknown>,
  portfoliosnapshots: snapshotsCheck as RowCheck<unknown>,
};
