import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Document } from 'bson';
import type { CollectionKind } from '../../src/import/targets.js';
import { runJob } from '../../src/workers/run-job.js';
import type { ValueDifference } from '../../src/verify/differences.js';
import { verifyCollection, type CollectionCheck } from '../../src/verify/verify-mongo.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { oid, snapshotDoc, userDoc, writeExport, withoutDecimal128 } from '../../scripts/mongo/documents.js';
import { range } from '../helpers/mongo-import.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestMongo, type TestMongo } from '../helpers/test-mongo.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

/**
 * Users: ObjectId, string and number _ids (the number one without dates: the import takes
 * now(), nothing to compare), and two rejects: no email, and an email user 1 already has.
 */
const USERS: Document[] = [
  ...range(1, 6).map(userDoc),
  { _id: 'user-seven', email: 'seven@example.com', name: 'Seven', createdAt: new Date('2024-02-03T04:05:06.789Z') },
  { _id: 8, email: 'eight@example.com' },
  { _id: oid('user', 9), name: 'No Email' },
  { _id: oid('user', 10), email: 'USER1@example.com' },
];
/** Snapshots owned by firebase uid (even), ObjectId (odd) and string _id; one orphan (a reject). */
const SNAPSHOTS: Document[] = [
  ...range(1, 8).map((n) => snapshotDoc(n, 1 + (n % 6))),
  snapshotDoc(9, 99),
  { _id: oid('snapshot', 10), userId: 'user-seven', totalValue: '1.50', timestamp: new Date('2024-07-02T00:00:00Z') },
];

const USER_2 = `_id=${oid('user', 2).toHexString()}`;
const SNAPSHOT_2 = `_id=${oid('snapshot', 2).toHexString()}`;
const SNAPSHOT_3 = `_id=${oid('snapshot', 3).toHexString()}`;

/** A change made to one stored value, and the difference verify must name for it. */
interface FieldCase {
  table: 'users' | 'portfolio_snapshots';
  mongoId: string;
  column: string;
  set: string;
  expected: Omit<ValueDifference, 'table' | 'column'> | { key: string; source: RegExp; stored: RegExp };
}

const USER_CASES: FieldCase[] = [
  ['email', `'other@example.com'`, 'user2@example.com', 'other@example.com'],
  ['email_key', `'other@example.com'`, 'user2@example.com', 'other@example.com'],
  ['firebase_uid', `'fb-other'`, 'fb-2', 'fb-other'],
  ['name', 'NULL', 'User 2', null],
  ['role', `'admin'`, 'user', 'admin'],
  ['paper_balance', '10002.1250001', '10002.125', '10002.1250001'],
  ['created_at', `created_at + interval '1 microsecond'`, '2024-01-01T00:02:00.000000Z', '2024-01-01T00:02:00.000001Z'],
  ['updated_at', `'2025-01-01T00:00:00Z'`, '2024-06-01T00:02:00.000000Z', '2025-01-01T00:00:00.000000Z'],
].map(([column, set, source, stored]) => ({
  table: 'users',
  mongoId: oid('user', 2).toHexString(),
  column: column!,
  set: set!,
  expected: { key: USER_2, source: source!, stored: stored ?? null },
}));

const SNAPSHOT_CASES: FieldCase[] = [
  ...[
    ['total_value', '10002.0002', '10002.0001', '10002.0002'],
    ['cash_balance', 'NULL', '5000.25', null],
    ['positions_value', '7', null, '7'],
    ['timeframe', `'1h'`, '1d', '1h'],
    ['recorded_at', `recorded_at - interval '1 hour'`, '2024-07-01T00:00:02.000000Z', '2024-06-30T23:00:02.000000Z'],
  ].map(([column, set, source, stored]) => ({
    table: 'portfolio_snapshots' as const,
    mongoId: oid('snapshot', 2).toHexString(),
    column: column!,
    set: set!,
    expected: { key: SNAPSHOT_2, source: source ?? null, stored: stored ?? null },
  })),
  {
    table: 'portfolio_snapshots',
    mongoId: oid('snapshot', 2).toHexString(),
    column: 'data',
    set: `jsonb_set(data, '{positions,0,value}', '12.6')`,
    expected: { key: SNAPSHOT_2, source: /"value":12\.5[,}]/, stored: /"value":12\.6[,}]/ },
  },
  {
    table: 'portfolio_snapshots',
    mongoId: oid('snapshot', 3).toHexString(),
    column: 'total_value',
    set: '9007199254740992',
    expected: { key: SNAPSHOT_3, source: '9007199254740993', stored: '9007199254740992' },
  },
  {
    table: 'portfolio_snapshots',
    mongoId: oid('snapshot', 3).toHexString(),
    column: 'data',
    set: `jsonb_set(data, '{equity}', '9007199254740992')`,
    expected: { key: SNAPSHOT_3, source: /"equity":9007199254740993[,}]/, stored: /"equity":9007199254740992[,}]/ },
  },
];

for (const mode of ['live', 'file'] as const) {
  describe(`verify compares Mongo ${mode === 'live' ? 'collections' : 'export files'} with PostgreSQL field by field`, () => {
    const tracker = failureTracker();
    const dir = tempDir(`verify-mongo-${mode}`);
    const files = { users: join(dir.path, 'users.json'), portfoliosnapshots: join(dir.path, 'snapshots.json') };
    let env: TestEnvironment;
    let mongo: TestMongo | undefined;

    const query = async <T extends object>(sql: string, params: unknown[] = []) =>
      (await env.db.pool.query<T>(sql, params)).rows;
    const verify = (collection: CollectionKind, shown?: number): Promise<CollectionCheck> =>
      verifyCollection(
        env.config,
        env.db.pool,
        collection,
        mode === 'live' ? { mongo: env.runtime.mongo } : { file: files[collection] },
        shown,
      );
    const verifyBoth = async () => [await verify('users'), await verify('portfoliosnapshots')];
    /** Runs `change`, then verify; puts the row back as it was (its JSON) whatever happens. */
    const withChange = async (
      table: string,
      mongoId: string,
      change: string,
      collection: CollectionKind,
    ): Promise<CollectionCheck> => {
      // As text: parsed by the driver, a number of 17 digits would come back rounded.
      const [saved] = await query<{ row: string }>(
        `SELECT to_jsonb(t)::text AS row FROM ${table} t WHERE mongo_id = $1`,
        [mongoId],
      );
      assert.ok(saved, `${table} ${mongoId} was imported`);
      await env.db.pool.query(`UPDATE ${table} SET ${change} WHERE mongo_id = $1`, [mongoId]);
      try {
        return await verify(collection);
      } finally {
        const columns = Object.keys(JSON.parse(saved.row) as object).filter((c) => c !== 'id');
        await env.db.pool.query(
          `UPDATE ${table} t SET (${columns.join(', ')}) = (SELECT ${columns.map((c) => `r.${c}`).join(', ')}
             FROM jsonb_populate_record(null::${table}, $2) r) WHERE mongo_id = $1`,
          [mongoId, saved.row],
        );
      }
    };

    before(async () => {
      if (mode === 'live') {
        mongo = await createTestMongo(`verify_mongo_${mode}`);
        await mongo.db.collection('users').insertMany(USERS.map((d) => withoutDecimal128(d) as Document));
        await mongo.db
          .collection('portfoliosnapshots')
          .insertMany(SNAPSHOTS.map((d) => withoutDecimal128(d) as Document));
      } else {
        writeExport(files.users, USERS);
        writeExport(files.portfoliosnapshots, SNAPSHOTS);
      }
      env = await createTestEnvironment(`verify_mongo_${mode}`, {
        IMPORT_BATCH_SIZE: '4',
        IMPORT_MAX_REJECT_RATIO: '0.5',
        ...(mongo ? { MONGO_URL: mongo.url } : {}),
      });
      for (const collection of ['users', 'portfoliosnapshots'] as const) {
        const payload = mode === 'live' ? { collection } : { collection, file: files[collection] };
        await runJob('mongo-import', payload, recordingContext(env.runtime));
      }
    });

    after(async () => {
      await env.cleanup({ keep: tracker.failed });
      await mongo?.cleanup({ keep: tracker.failed });
      if (!tracker.failed) dir.remove();
    });

    it('finds no difference after an import: dates, decimals, nested JSON, every _id type, rejects', async () => {
      const checks = await verifyBoth();
      assert.deepEqual(
        checks.map((c) => [c.collection, c.error, c.sourceCount, c.target, c.rejected, c.differenceTotal, c.ok]),
        [
          ['users', undefined, 10, 8, 2, 0, true],
          ['portfoliosnapshots', undefined, 10, 9, 1, 0, true],
        ],
      );
      assert.deepEqual(
        checks.map((c) => c.differences),
        [[], []],
      );
    });

    for (const field of [...USER_CASES, ...SNAPSHOT_CASES]) {
      it(`names a changed ${field.table}.${field.column} (${field.expected.key})`, async () => {
        const collection = field.table === 'users' ? 'users' : 'portfoliosnapshots';
        const check = await withChange(field.table, field.mongoId, `${field.column} = ${field.set}`, collection);
        assert.equal(check.ok, false);
        assert.equal(check.differenceTotal, 1, JSON.stringify(check.differences));
        const [difference] = check.differences ?? [];
        const { source, stored } = field.expected;
        if (source instanceof RegExp || stored instanceof RegExp) {
          assert.deepEqual(
            [difference?.table, difference?.key, difference?.column],
            [field.table, field.expected.key, field.column],
          );
          assert.match(difference?.source ?? '', source as RegExp);
          assert.match(difference?.stored ?? '', stored as RegExp);
        } else {
          assert.deepEqual(difference, {
            table: field.table,
            key: field.expected.key,
            column: field.column,
            source,
            stored,
          });
        }
      });
    }

    it("names a snapshot's changed owner (user_id), resolved as the import resolves it", async () => {
      const [owner, other] = await query<{ id: string }>(
        `SELECT id::text FROM users WHERE firebase_uid = 'fb-3' UNION ALL SELECT id::text FROM users WHERE mongo_id = $1`,
        [oid('user', 1).toHexString()],
      );
      const check = await withChange(
        'portfolio_snapshots',
        oid('snapshot', 2).toHexString(),
        `user_id = '${other!.id}'`,
        'portfoliosnapshots',
      );
      assert.deepEqual(check.differences, [
        { table: 'portfolio_snapshots', key: SNAPSHOT_2, column: 'user_id', source: owner!.id, stored: other!.id },
      ]);
    });

    it('names a deleted row, a row no document names, and an unmappable document missing from rejects', async () => {
      const [row] = await query<{ row: string }>(
        `DELETE FROM portfolio_snapshots WHERE mongo_id = $1 RETURNING to_jsonb(portfolio_snapshots)::text AS row`,
        [oid('snapshot', 4).toHexString()],
      );
      const [ghost] = await query<{ id: string }>(
        `INSERT INTO users (mongo_id, mongo_id_type, email, email_key) VALUES ('ghost', 'string', 'ghost@example.com', 'ghost@example.com') RETURNING id::text`,
      );
      const [reject] = await query<{ position: string; row: string }>(
        `DELETE FROM rejects WHERE collection = 'users' AND reason LIKE '%no email%' RETURNING position, to_jsonb(rejects)::text AS row`,
      );
      try {
        const [users, snapshots] = await verifyBoth();
        assert.equal(users!.differenceTotal, 2, JSON.stringify(users!.differences));
        assert.ok(reject, 'the no-email user was a recorded reject');
        assert.deepEqual(users!.differences?.[0], {
          table: 'users',
          key: reject.position,
          column: '(row)',
          source: 'cannot be imported and is not in rejects: users document: no email',
          stored: null,
        });
        assert.deepEqual(users!.differences?.[1], {
          table: 'users',
          key: '_id="ghost"',
          column: '(row)',
          source: null,
          stored: `id=${ghost!.id}`,
        });
        assert.equal(snapshots!.differenceTotal, 1);
        assert.deepEqual(
          { ...snapshots!.differences?.[0], source: undefined },
          {
            table: 'portfolio_snapshots',
            key: `_id=${oid('snapshot', 4).toHexString()}`,
            column: '(row)',
            source: undefined,
            stored: null,
          },
        );
        assert.match(snapshots!.differences?.[0]?.source ?? '', /^document at (_id|line)/);
      } finally {
        await env.db.pool.query(
          `INSERT INTO portfolio_snapshots SELECT * FROM jsonb_populate_record(null::portfolio_snapshots, $1)`,
          [row!.row],
        );
        await env.db.pool.query(`DELETE FROM users WHERE id = $1`, [ghost!.id]);
        await env.db.pool.query(`INSERT INTO rejects SELECT * FROM jsonb_populate_record(null::rejects, $1)`, [
          reject!.row,
        ]);
      }
      assert.deepEqual(
        (await verifyBoth()).map((c) => c.differenceTotal),
        [0, 0],
      );
    });

    it('keeps the first N differences, in source order, and counts them all', async () => {
      const names = await query<{ mongo_id: string; name: string | null }>('SELECT mongo_id, name FROM users');
      await env.db.pool.query(`UPDATE users SET name = 'Renamed'`);
      try {
        const check = await verify('users', 2);
        assert.equal(check.differenceTotal, 8);
        assert.deepEqual(
          check.differences?.map((d) => [d.column, d.source, d.stored]),
          // Live: by _id, numbers, then strings, then ObjectIds; a file: in file order.
          mode === 'live'
            ? [
                ['name', null, 'Renamed'],
                ['name', 'Seven', 'Renamed'],
              ]
            : [
                ['name', 'User 1', 'Renamed'],
                ['name', 'User 2', 'Renamed'],
              ],
        );
      } finally {
        for (const { mongo_id, name } of names)
          await env.db.pool.query('UPDATE users SET name = $2 WHERE mongo_id = $1', [mongo_id, name]);
      }
    });

    if (mode === 'live') {
      it('ctp-etl verify exits 1 and prints each difference below the table, and in --json', async () => {
        const cli = cliEnv(env.config, { LOG_LEVEL: 'warn' });
        await env.db.pool.query(`UPDATE users SET name = 'Someone' WHERE mongo_id = $1`, [
          oid('user', 2).toHexString(),
        ]);
        try {
          const run = await runCli(['verify', '--no-bots'], cli);
          assert.equal(run.code, 1, run.output);
          assert.match(run.output, /users\s+mongodb:\S+\s+10\s+8\s+2\s+MISMATCH/);
          assert.ok(run.output.includes(`users: users ${USER_2} name: source "User 2", stored "Someone"`), run.output);
          const json = await runCli(['verify', '--no-bots', '--json'], cli);
          const report = JSON.parse(json.output) as { ok: boolean; mongo: CollectionCheck[] };
          assert.equal(report.ok, false);
          assert.deepEqual(
            report.mongo.map((m) => [m.collection, m.differenceTotal, m.differences]),
            [
              ['users', 1, [{ table: 'users', key: USER_2, column: 'name', source: 'User 2', stored: 'Someone' }]],
              ['portfoliosnapshots', 0, []],
            ],
          );
        } finally {
          await env.db.pool.query(`UPDATE users SET name = 'User 2' WHERE mongo_id = $1`, [
            oid('user', 2).toHexString(),
          ]);
        }
        const clean = await runCli(['verify', '--no-bots'], cli);
        assert.equal(clean.code, 0, clean.output);
      });
    }
  });
}

describe('verify against an export file that holds a document twice', () => {
  const tracker = failureTracker();
  const dir = tempDir('verify-mongo-copies');
  const file = join(dir.path, 'users.json');
  let env: TestEnvironment;

  before(async () => {
    // Batches of two: each second copy lands in a later batch than its first. User 2's second
    // copy is newer (the import takes it); user 3's is older (the import keeps the first).
    writeExport(file, [
      userDoc(1),
      userDoc(2),
      userDoc(3),
      { ...userDoc(2), name: 'User 2 again', updatedAt: new Date('2024-09-01T00:00:00Z') },
      { ...userDoc(3), name: 'User 3 before', updatedAt: new Date('2024-03-01T00:00:00Z') },
    ]);
    env = await createTestEnvironment('verify_mongo_copies', { IMPORT_BATCH_SIZE: '2' });
    await runJob('mongo-import', { collection: 'users', file }, recordingContext(env.runtime));
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  const verifyFile = () => verifyCollection(env.config, env.db.pool, 'users', { file });

  it('takes a stored row equal to one of its copies, whichever the import kept', async () => {
    const names = await env.db.pool.query<{ name: string }>('SELECT name FROM users ORDER BY mongo_id');
    assert.deepEqual(
      names.rows.map((r) => r.name),
      ['User 1', 'User 2 again', 'User 3'],
    );
    const check = await verifyFile();
    assert.deepEqual([check.sourceCount, check.target, check.differenceTotal, check.ok], [5, 3, 0, true]);
  });

  it('names a row equal to none of its copies, against the last copy', async () => {
    // User 2's first name with the second copy's updatedAt: neither copy.
    await env.db.pool.query(`UPDATE users SET name = 'User 2' WHERE mongo_id = $1`, [oid('user', 2).toHexString()]);
    const check = await verifyFile();
    assert.deepEqual(check.differences, [
      { table: 'users', key: USER_2, column: 'name', source: 'User 2 again', stored: 'User 2' },
    ]);
  });
});
