import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { EJSON } from 'bson';
import { PermanentJobError } from '../../src/errors.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { oid, snapshotDoc, userDoc, writeExport } from '../../scripts/mongo/documents.js';
import { range, type ImportResult } from '../helpers/mongo-import.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

describe('mongo-import from mongoexport files', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let dir: string;

  const importFile = async (collection: string, file: string, options: { abortAfterBatches?: number } = {}) => {
    const ctx = recordingContext(env.runtime, options);
    const logs = ctx.lines;
    const result = (await runJob('mongo-import', { collection, file }, ctx)) as ImportResult;
    return { result, logs };
  };
  const query = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await env.db.pool.query<T>(sql, params)).rows;

  before(async () => {
    env = await createTestEnvironment('mongo_import_file', { IMPORT_BATCH_SIZE: '10', IMPORT_MAX_REJECT_RATIO: '0.7' });
    dir = mkdtempSync(join(tmpdir(), 'ctp-mongo-import-'));
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) rmSync(dir, { recursive: true, force: true });
  });

  it('imports canonical Extended JSON users exactly, and a second run changes nothing', async () => {
    const file = join(dir, 'users.json');
    writeExport(file, range(1, 25).map(userDoc));
    const first = await importFile('users', file);
    assert.deepEqual(
      {
        read: first.result.read,
        inserted: first.result.inserted,
        updated: first.result.updated,
        rejected: first.result.rejected,
      },
      { read: 25, inserted: 25, updated: 0, rejected: 0 },
    );
    const [even] = await query<Record<string, string>>(
      `SELECT email, firebase_uid, name, role, paper_balance::text, created_at::text, updated_at::text FROM users WHERE mongo_id = $1`,
      [oid('user', 2).toHexString()],
    );
    assert.deepEqual(even, {
      email: 'user2@example.com',
      firebase_uid: 'fb-2',
      name: 'User 2',
      role: 'user',
      paper_balance: '10002.125',
      created_at: '2024-01-01 00:02:00+00',
      updated_at: '2024-06-01 00:02:00+00',
    });
    const [odd] = await query<Record<string, string>>(
      `SELECT firebase_uid, role, paper_balance::text FROM users WHERE mongo_id = $1`,
      [oid('user', 1).toHexString()],
    );
    assert.deepEqual(odd, { firebase_uid: 'fb-1', role: 'admin', paper_balance: '5001.5' });

    const before = await query<{ mongo_id: string; imported_at: Date }>(
      'SELECT mongo_id, imported_at FROM users ORDER BY mongo_id',
    );
    const second = await importFile('users', file);
    assert.deepEqual(
      {
        read: second.result.read,
        inserted: second.result.inserted,
        updated: second.result.updated,
        unchanged: second.result.unchanged,
      },
      { read: 25, inserted: 0, updated: 0, unchanged: 25 },
    );
    assert.equal(second.result.startedAt, 'start', 'a completed import runs again from the start');
    assert.deepEqual(
      await query('SELECT mongo_id, imported_at FROM users ORDER BY mongo_id'),
      before,
      'no row was touched',
    );
  });

  it('reads relaxed Extended JSON in a gzipped --jsonArray export, $numberLong beyond 2^53 and $numberDecimal exact', async () => {
    const file = join(dir, 'users-array.json.gz');
    const lines = [
      ...range(26, 30).map(userDoc),
      '{"_id":{"$oid":"65a00000000000000000ff01"},"email":"long@example.com","paperBalance":{"$numberLong":"9007199254740993"},"createdAt":{"$date":"2023-05-06T07:08:09.123Z"}}',
      '{"_id":{"$oid":"65a00000000000000000ff02"},"email":"dec@example.com","paperBalance":{"$numberDecimal":"0.1000000000000000000000000000000001"},"createdAt":{"$date":{"$numberLong":"1683356889123"}}}',
    ];
    writeExport(file, lines, { relaxed: true, jsonArray: true, gzip: true });
    const { result } = await importFile('users', file);
    assert.equal(result.inserted, 7);
    assert.equal(result.rejected, 0);
    const rows = await query<{ email: string; paper_balance: string; created_at: string }>(
      `SELECT email, paper_balance::text, created_at::text FROM users WHERE email IN ('long@example.com', 'dec@example.com', 'user26@example.com') ORDER BY email`,
    );
    assert.deepEqual(rows, [
      {
        email: 'dec@example.com',
        paper_balance: '0.1000000000000000000000000000000001',
        created_at: '2023-05-06 07:08:09.123+00',
      },
      { email: 'long@example.com', paper_balance: '9007199254740993', created_at: '2023-05-06 07:08:09.123+00' },
      { email: 'user26@example.com', paper_balance: '10026.125', created_at: '2024-01-01 00:26:00+00' },
    ]);
  });

  it('rejects a broken line and a second email differing only in case, and imports the rest', async () => {
    const file = join(dir, 'users-dirty.json');
    const duplicate = { ...userDoc(40), _id: oid('user', 41), email: 'USER40@Example.COM', firebaseUid: 'fb-41-dup' };
    writeExport(file, [
      userDoc(40),
      '{"_id":{"$oid":"65a0000000000000000000aa"},"email": "broken@example.com"',
      duplicate,
      '{"_id":{"$oid":"65a0000000000000000000ab"},"name":"no email"}',
      userDoc(42),
    ]);
    const { result } = await importFile('users', file);
    assert.deepEqual(
      { read: result.read, inserted: result.inserted, rejected: result.rejected },
      { read: 5, inserted: 2, rejected: 3 },
    );
    const rejects = await query<{ position: string; reason: string; raw: string }>(
      `SELECT position, reason, raw FROM rejects WHERE source = 'mongo-import' AND source_ref = $1 ORDER BY position`,
      [file],
    );
    assert.deepEqual(
      rejects.map((r) => r.position.replace(/, byte \d+/, '')),
      ['line 2', 'line 3', 'line 4'],
    );
    assert.match(rejects[0]!.reason, /^malformed Extended JSON/);
    assert.equal(rejects[0]!.raw, '{"_id":{"$oid":"65a0000000000000000000aa"},"email": "broken@example.com"');
    assert.match(rejects[1]!.reason, new RegExp(`already used by user _id ${oid('user', 40).toHexString()}`));
    assert.match(rejects[2]!.reason, /no email/);
    const emails = await query<{ email: string }>(
      `SELECT email FROM users WHERE lower(email) IN ('user40@example.com', 'user42@example.com') ORDER BY email`,
    );
    assert.deepEqual(
      emails.map((r) => r.email),
      ['user40@example.com', 'user42@example.com'],
    );

    // Running it again keeps one reject per position.
    await importFile('users', file);
    const [count] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM rejects WHERE source_ref = $1`, [file]);
    assert.equal(count!.n, 3);
  });

  it('imports snapshots by firebase uid or user _id, exact values, and rejects an orphan', async () => {
    const file = join(dir, 'snapshots.json');
    const orphan = { ...snapshotDoc(3, 1), _id: oid('snapshot', 9999), userId: 'fb-nobody' };
    writeExport(file, [snapshotDoc(1, 1), snapshotDoc(2, 2), orphan]);
    const { result } = await importFile('portfoliosnapshots', file);
    assert.deepEqual({ inserted: result.inserted, rejected: result.rejected }, { inserted: 2, rejected: 1 });
    const rows = await query<Record<string, string | null>>(
      `SELECT s.mongo_id, u.email, s.total_value::text, s.cash_balance::text, s.timeframe, s.recorded_at::text,
              (s.data->'positions'->0->>'amount') AS amount, s.data->>'_id' AS data_id
       FROM portfolio_snapshots s JOIN users u ON u.id = s.user_id ORDER BY s.mongo_id`,
    );
    assert.deepEqual(rows, [
      {
        mongo_id: oid('snapshot', 1).toHexString(),
        email: 'user1@example.com',
        total_value: '9007199254740993',
        cash_balance: '1',
        timeframe: 'adhoc',
        recorded_at: '2024-07-01 00:00:01+00',
        amount: '0.000123456789',
        data_id: oid('snapshot', 1).toHexString(),
      },
      {
        mongo_id: oid('snapshot', 2).toHexString(),
        email: 'user2@example.com',
        total_value: '10002.0001',
        cash_balance: '5000.25',
        timeframe: '1d',
        recorded_at: '2024-07-01 00:00:02+00',
        amount: '0.000123456789',
        data_id: oid('snapshot', 2).toHexString(),
      },
    ]);
    const [reject] = await query<{ reason: string; raw: string }>(
      `SELECT reason, raw FROM rejects WHERE collection = 'portfoliosnapshots' AND source_ref = $1`,
      [file],
    );
    assert.match(reject!.reason, /no user with firebase uid or _id fb-nobody/);
    assert.equal(EJSON.parse(reject!.raw).userId, 'fb-nobody');
  });

  it('updates a changed snapshot, and rejects the rows PostgreSQL refuses while the rest of their batch lands', async () => {
    const file = join(dir, 'snapshots-changing.json');
    const docs = range(51, 55).map((n) => snapshotDoc(n, 1));
    writeExport(file, docs);
    assert.equal((await importFile('portfoliosnapshots', file)).result.inserted, 5);

    const changed = { ...docs[1]!, totalValue: '12345.678' };
    const overflow = { ...snapshotDoc(57, 1), totalValue: '1e1000000' };
    const nul = { ...snapshotDoc(58, 1), note: 'bad\u0000byte' };
    const next = join(dir, 'snapshots-changed.json');
    writeExport(next, [docs[0]!, changed, ...docs.slice(2), snapshotDoc(56, 1), overflow, nul]);
    const { result } = await importFile('portfoliosnapshots', next);
    assert.deepEqual(
      {
        read: result.read,
        inserted: result.inserted,
        updated: result.updated,
        unchanged: result.unchanged,
        rejected: result.rejected,
      },
      { read: 8, inserted: 1, updated: 1, unchanged: 4, rejected: 2 },
    );
    const [row] = await query<{ total: string }>(
      `SELECT total_value::text AS total FROM portfolio_snapshots WHERE mongo_id = $1`,
      [oid('snapshot', 52).toHexString()],
    );
    assert.equal(row!.total, '12345.678');
    const rejects = await query<{ position: string; reason: string }>(
      `SELECT position, reason FROM rejects WHERE source_ref = $1 ORDER BY position`,
      [next],
    );
    assert.deepEqual(
      rejects.map((r) => r.position.replace(/, byte \d+/, '')),
      ['line 7', 'line 8'],
    );
    for (const reject of rejects) assert.match(reject.reason, /PostgreSQL refused the row/);
    const [landed] = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM portfolio_snapshots WHERE mongo_id IN ($1, $2, $3)`,
      [oid('snapshot', 56).toHexString(), oid('snapshot', 57).toHexString(), oid('snapshot', 58).toHexString()],
    );
    assert.equal(landed!.n, 1);
  });

  it('resumes a crashed import from its checkpoint and ends with exactly the right rows', async () => {
    const file = join(dir, 'snapshots-many.json');
    writeExport(
      file,
      range(101, 195).map((n) => snapshotDoc(n, 1 + (n % 25))),
    );
    await assert.rejects(
      importFile('portfoliosnapshots', file, { abortAfterBatches: 3 }),
      /aborted line 31 \(byte \d+\); a retry resumes there/,
    );
    const [partial] = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM portfolio_snapshots WHERE mongo_id >= $1`,
      [oid('snapshot', 101).toHexString()],
    );
    assert.equal(partial!.n, 30, 'three batches of ten committed');

    const retry = await importFile('portfoliosnapshots', file);
    assert.match(retry.result.startedAt, /^line 31 /);
    assert.deepEqual(
      {
        read: retry.result.read,
        inserted: retry.result.inserted,
        updated: retry.result.updated,
        rejected: retry.result.rejected,
      },
      { read: 95, inserted: 95, updated: 0, rejected: 0 },
      'the counts cover the whole import, across both runs',
    );
    const rows = await query<{ n: number; distinct_ids: number; total: string }>(
      `SELECT count(*)::int AS n, count(DISTINCT mongo_id)::int AS distinct_ids, sum(total_value)::text AS total
       FROM portfolio_snapshots WHERE mongo_id >= $1 AND mongo_id <= $2`,
      [oid('snapshot', 101).toHexString(), oid('snapshot', 195).toHexString()],
    );
    const expected = range(101, 195).reduce(
      (sum, n) => sum + (n % 2 === 0 ? BigInt(10_000 + n) * 10_000n + 1n : 9007199254740993n * 10_000n),
      0n,
    );
    assert.deepEqual(rows[0], {
      n: 95,
      distinct_ids: 95,
      total: `${expected / 10_000n}.${(expected % 10_000n).toString().padStart(4, '0')}`,
    });

    const again = await importFile('portfoliosnapshots', file);
    assert.deepEqual(
      { inserted: again.result.inserted, updated: again.result.updated, unchanged: again.result.unchanged },
      { inserted: 0, updated: 0, unchanged: 95 },
    );
  });

  it('parses in a worker thread: a read error there fails the import naming the file, after the batches before it', async () => {
    const file = join(dir, 'truncated.json.gz');
    const text = `${range(401, 460)
      .map((n) => EJSON.stringify(userDoc(n), { relaxed: false }))
      .join('\n')}\n`;
    const gzip = gzipSync(text);
    writeFileSync(file, gzip.subarray(0, gzip.length - 40)); // cut inside the last block: gunzip fails at the end
    await assert.rejects(importFile('users', file), (error: Error) =>
      /^reading .*truncated\.json\.gz: unexpected end of file/.test(error.message),
    );
    const [row] = await query<{ n: number }>(
      `SELECT count(*)::int AS n FROM users WHERE mongo_id >= $1 AND mongo_id <= $2`,
      [oid('user', 401).toHexString(), oid('user', 460).toHexString()],
    );
    assert.ok(
      row!.n > 0 && row!.n < 60 && row!.n % 10 === 0,
      `whole batches of ten committed before the error, got ${row!.n}`,
    );
  });

  it('fails past IMPORT_MAX_REJECT_RATIO, keeping the good rows and the rejects', async () => {
    const file = join(dir, 'mostly-broken.json');
    writeExport(file, [userDoc(60), 'garbage', '{"_id":1}', '[]', '{"_id":2,"email":{"$numberInt":"5"}}']);
    await assert.rejects(importFile('users', file), (error: Error) => {
      assert.ok(error instanceof PermanentJobError);
      assert.match(error.message, /4 of 5 documents rejected, more than IMPORT_MAX_REJECT_RATIO=0.7/);
      return true;
    });
    const [row] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE email = 'user60@example.com'`);
    assert.equal(row!.n, 1);
  });

  it('fails permanently, naming the file, when the export does not exist', async () => {
    await assert.rejects(
      importFile('users', join(dir, 'missing.json')),
      (error: Error) => error instanceof PermanentJobError && /missing\.json/.test(error.message),
    );
  });

  it('runs from the command line: ctp-etl run mongo-import --collection users --file', async () => {
    const file = join(dir, 'users-cli.json');
    writeExport(file, [userDoc(70), userDoc(71)]);
    const { code, output } = await runCli(
      ['run', 'mongo-import', '--collection', 'users', '--file', file],
      cliEnv(env.config),
    );
    assert.equal(code, 0, output);
    const line = output.split('\n').find((text) => text.startsWith('{"job":"mongo-import"'));
    const printed = JSON.parse(line ?? '{}') as { result?: ImportResult };
    assert.deepEqual(printed.result && { read: printed.result.read, inserted: printed.result.inserted }, {
      read: 2,
      inserted: 2,
    });
    const refused = await runCli(['run', 'mongo-import', '--collection', 'all', '--file', file], cliEnv(env.config));
    assert.notEqual(refused.code, 0);
    assert.match(refused.output, /--collection all imports the live MongoDB/);
  });
});
