import { createHash } from 'node:crypto';
import type { PgPool } from '../../src/connections/postgres.js';
import { canonicalDecimal } from '../../src/verify/canonical-decimal.js';
import type { ExpectedRows } from './import-corpus.js';

export interface ImportEquality {
  /** Rows PostgreSQL should hold (documents minus rejects). */
  sourceRows: number;
  users: number;
  snapshots: number;
  /** Expected rows PostgreSQL does not have. */
  lost: number;
  /** Rows beyond one per expected row: a mongo_id twice, or one the source does not have. */
  duplicated: number;
  /** Expected rows present with another value. */
  changed: number;
  /** sha256 over the sorted (mongo_id, value) pairs, source side and PostgreSQL side. */
  checksums: { users: [string, string]; snapshots: [string, string] };
}

/** users (mongo_id, email) and portfolio_snapshots (mongo_id, total_value) against the corpus. */
export async function compareImport(pg: PgPool, expected: ExpectedRows): Promise<ImportEquality> {
  const users = await pg.query<{ k: string; v: string }>('SELECT mongo_id AS k, email AS v FROM users');
  const snapshots = await pg.query<{ k: string; v: string }>(
    'SELECT mongo_id AS k, total_value::text AS v FROM portfolio_snapshots',
  );
  const u = diff(expected.users, users.rows, (v) => v);
  const s = diff(expected.snapshots, snapshots.rows, canonicalDecimal);
  return {
    sourceRows: expected.users.size + expected.snapshots.size,
    users: users.rows.length,
    snapshots: snapshots.rows.length,
    lost: u.lost + s.lost,
    duplicated: u.duplicated + s.duplicated,
    changed: u.changed + s.changed,
    checksums: { users: u.checksums, snapshots: s.checksums },
  };
}

function diff(
  expected: ReadonlyMap<string, string>,
  rows: ReadonlyArray<{ k: string; v: string }>,
  canonical: (v: string) => string,
) {
  let duplicated = 0;
  let changed = 0;
  const seen = new Set<string>();
  for (const { k, v } of rows) {
    const want = expected.get(k);
    if (want === undefined || seen.has(k)) duplicated += 1;
    else if (canonical(want) !== canonical(v)) changed += 1;
    seen.add(k);
  }
  let lost = 0;
  for (const k of expected.keys()) if (!seen.has(k)) lost += 1;
  const checksums: [string, string] = [
    checksum([...expected].map(([k, v]) => [k, canonical(v)])),
    checksum(rows.map(({ k, v }) => [k, canonical(v)])),
  ];
  return { lost, duplicated, changed, checksums };
}

function checksum(pairs: Array<[string, string]>): string {
  const hash = createHash('sha256');
  for (const [k, v] of pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(`${k}\t${v}\n`);
  return hash.digest('hex');
}
