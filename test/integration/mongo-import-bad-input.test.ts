import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EJSON, ObjectId, type Document } from 'bson';
import { enqueueUserUpsert } from '../../src/index.js';
import { closeQueues, createQueues } from '../../src/queues/queues.js';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { writeExport } from '../../scripts/mongo/documents.js';
import { createMongoTestEnvironment, importCounts as counts, type ImportResult } from '../helpers/mongo-import.js';
import type { TestMongo } from '../helpers/test-mongo.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

const HEX = '65d000000000000000000001';
const created = new Date('2024-01-01T00:00:00Z');
/** Four users whose _ids have one text in two types each: 3 and "3", an ObjectId and its hex. */
const typedUsers = (): Document[] => [
  { _id: 3, email: 'number@example.com', createdAt: created },
  { _id: '3', email: 'string@example.com', createdAt: created },
  { _id: new ObjectId(HEX), email: 'oid@example.com', createdAt: created },
  { _id: HEX, email: 'hex@example.com', createdAt: created },
];

describe('mongo-import: ids of different types, bad bytes, emails, huge documents', () => {
  const tracker = failureTracker();
  let env: TestEnvironment;
  let mongo: TestMongo;
  let dir: string;

  const query = async <T extends object>(sql: string, params: unknown[] = []) =>
    (await env.db.pool.query<T>(sql, params)).rows;
  const importFile = async (collection: string, file: string, target = env) =>
    (await runJob('mongo-import', { collection, file }, recordingContext(target.runtime))) as ImportResult;
  const clear = () => env.db.pool.query('TRUNCATE users, portfolio_snapshots, rejects, import_checkpoints CASCADE');
  const users = () =>
    query<{ mongo_id: string; mongo_id_type: string; email: string }>(
      'SELECT mongo_id, mongo_id_type, email FROM users ORDER BY email',
    );

  before(async () => {
    ({ env, mongo } = await createMongoTestEnvironment('mongo_bad_input', {
      IMPORT_BATCH_SIZE: '2',
      IMPORT_MAX_REJECT_RATIO: '0.9',
      IMPORT_MAX_DOCUMENT_BYTES: '4096',
    }));
    dir = mkdtempSync(join(tmpdir(), 'ctp-mongo-bad-'));
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    await mongo.cleanup({ keep: tracker.failed });
    if (!tracker.failed) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps {"_id": 3} and {"_id": "3"}, an ObjectId and its hex string, as four users, and a second run changes nothing', async () => {
    await clear();
    const file = join(dir, 'typed-users.json');
    writeExport(file, typedUsers());
    assert.deepEqual(counts(await importFile('users', file)), {
      read: 4,
      inserted: 4,
      updated: 0,
      unchanged: 0,
      rejected: 0,
    });
    assert.deepEqual(await users(), [
      { mongo_id: HEX, mongo_id_type: 'string', email: 'hex@example.com' },
      { mongo_id: '3', mongo_id_type: 'number', email: 'number@example.com' },
      { mongo_id: HEX, mongo_id_type: 'objectId', email: 'oid@example.com' },
      { mongo_id: '3', mongo_id_type: 'string', email: 'string@example.com' },
    ]);
    assert.deepEqual(counts(await importFile('users', file)), {
      read: 4,
      inserted: 0,
      updated: 0,
      unchanged: 4,
      rejected: 0,
    });
  });

  it('gives each snapshot the user of its reference type, and keeps snapshot _ids 7 and "7" apart', async () => {
    const file = join(dir, 'typed-snapshots.json');
    const snapshot = (id: unknown, userId: unknown, total: number) => ({
      _id: id,
      userId,
      totalValue: total,
      timestamp: new Date('2024-07-01T00:00:00Z'),
    });
    writeExport(file, [
      snapshot(7, 3, 1),
      snapshot('7', '3', 2),
      snapshot(new ObjectId('65e000000000000000000001'), new ObjectId(HEX), 3),
      snapshot(new ObjectId('65e000000000000000000002'), HEX, 4),
      snapshot(new ObjectId('65e000000000000000000003'), 99, 5),
    ]);
    assert.deepEqual(counts(await importFile('portfoliosnapshots', file)), {
      read: 5,
      inserted: 4,
      updated: 0,
      unchanged: 0,
      rejected: 1,
    });
    const owners = await query<{ id: string; type: string; total: string; email: string }>(
      `SELECT s.mongo_id AS id, s.mongo_id_type AS type, s.total_value::text AS total, u.email
       FROM portfolio_snapshots s JOIN users u ON u.id = s.user_id ORDER BY s.total_value`,
    );
    assert.deepEqual(owners, [
      { id: '7', type: 'number', total: '1', email: 'number@example.com' },
      { id: '7', type: 'string', total: '2', email: 'string@example.com' },
      { id: '65e000000000000000000001', type: 'objectId', total: '3', email: 'oid@example.com' },
      { id: '65e000000000000000000002', type: 'objectId', total: '4', email: 'hex@example.com' },
    ]);
    const rejects = await query<{ reason: string }>(
      `SELECT reason FROM rejects WHERE collection = 'portfoliosnapshots' AND source_ref = $1`,
      [file],
    );
    assert.deepEqual(rejects, [{ reason: 'snapshot _id 65e000000000000000000003: no user with _id 99 (number)' }]);
  });

  it('resumes a live import by _id order across types: numbers, then strings, then ObjectIds', async () => {
    await clear();
    const collection = mongo.db.collection('users');
    // FerretDB takes an ObjectId and its hex string for one _id, so the live set leaves the hex out.
    await collection.insertMany([
      ...typedUsers().filter((doc) => doc._id !== HEX),
      { _id: 1, email: 'one@example.com', createdAt: created },
      { _id: 'a', email: 'a@example.com', createdAt: created },
    ]);
    // Batches of 2: the first holds _ids 1 and 3 (numbers); the retry must go on with "3", "a" and the ObjectId.
    const aborted = recordingContext(env.runtime, { abortAfterBatches: 1 });
    await assert.rejects(runJob('mongo-import', { collection: 'users' }, aborted), /aborted after _id/);
    const resumed = (await runJob(
      'mongo-import',
      { collection: 'users' },
      recordingContext(env.runtime),
    )) as ImportResult;
    assert.deepEqual(counts(resumed), { read: 5, inserted: 5, updated: 0, unchanged: 0, rejected: 0 });
    assert.deepEqual(
      (await users()).map((u) => `${u.mongo_id_type}:${u.mongo_id}`),
      ['string:a', 'number:3', 'objectId:65d000000000000000000001', 'number:1', 'string:3'],
    );
  });

  it('reconciles users 3 and "3" as two users', async () => {
    await clear();
    const result = (await runJob('user-reconcile', { overlapMs: 0 }, recordingContext(env.runtime))) as ImportResult;
    assert.equal(result.read, 5);
    assert.equal(result.inserted, 5);
    assert.equal(result.rejected, 0);
    const threes = await query<{ type: string; email: string }>(
      `SELECT mongo_id_type AS type, email FROM users WHERE mongo_id = '3' ORDER BY email`,
    );
    assert.deepEqual(threes, [
      { type: 'number', email: 'number@example.com' },
      { type: 'string', email: 'string@example.com' },
    ]);
  });

  it('resumes a failed reconcile after its last committed _id, through the import pipeline', async () => {
    await clear();
    const aborted = recordingContext(env.runtime, { abortAfterBatches: 1 });
    await assert.rejects(
      runJob('user-reconcile', { overlapMs: 0 }, aborted),
      /user-reconcile users from mongodb:.* aborted after _id/,
    );
    const resumed = (await runJob('user-reconcile', { overlapMs: 0 }, recordingContext(env.runtime))) as ImportResult;
    assert.deepEqual(counts(resumed), { read: 5, inserted: 5, updated: 0, unchanged: 0, rejected: 0 });
    assert.equal((await users()).length, 5);
  });

  it('dual-writes {"_id": 3} and {"_id": "3"} as two jobs and two users', async () => {
    await clear();
    const queues = createQueues(env.config, env.runtime.redis('producer'), ['user-upsert']);
    try {
      const updatedAt = new Date('2024-02-01T00:00:00Z');
      const number = await enqueueUserUpsert({ _id: 3, email: 'n@example.com', updatedAt }, { queues });
      const string = await enqueueUserUpsert({ _id: '3', email: 's@example.com', updatedAt }, { queues });
      assert.notEqual(number.id, string.id);
      for (const job of [number, string]) {
        await runJob('user-upsert', job.data as Record<string, unknown>, recordingContext(env.runtime));
      }
    } finally {
      await closeQueues(queues);
    }
    assert.deepEqual(
      (await users()).map((u) => `${u.mongo_id_type}:${u.mongo_id} ${u.email}`),
      ['number:3 n@example.com', 'string:3 s@example.com'],
    );
  });

  it('rejects a line that is not UTF-8, naming the line and the byte, and imports the others', async () => {
    await clear();
    const file = join(dir, 'bad-utf8.json');
    const line = (n: number) => EJSON.stringify({ _id: n, email: `u${n}@example.com` }, { relaxed: false });
    const bad = Buffer.from(`{"_id": 2, "email": "u2@example.com", "name": "caf`);
    writeFileSync(
      file,
      Buffer.concat([Buffer.from(`${line(1)}\n`), bad, Buffer.from([0xe9]), Buffer.from(`"}\n${line(3)}\n`)]),
    );
    assert.deepEqual(counts(await importFile('users', file)), {
      read: 3,
      inserted: 2,
      updated: 0,
      unchanged: 0,
      rejected: 1,
    });
    const lineStart = line(1).length + 1;
    const rejects = await query<{ position: string; reason: string }>(
      'SELECT position, reason FROM rejects WHERE source_ref = $1',
      [file],
    );
    assert.deepEqual(rejects, [
      {
        position: `line 2, byte ${lineStart}`,
        reason: `invalid UTF-8 at byte ${lineStart + bad.length} of the file (byte ${bad.length} of the document, line 2)`,
      },
    ]);
    assert.deepEqual(
      (await users()).map((u) => u.email),
      ['u1@example.com', 'u3@example.com'],
    );
  });

  it('rejects a document above IMPORT_MAX_DOCUMENT_BYTES, in lines and in a --jsonArray, keeping only its head', async () => {
    for (const jsonArray of [false, true]) {
      await clear();
      const file = join(dir, `huge-${jsonArray}.json`);
      const huge = { _id: 2, email: 'huge@example.com', name: 'x'.repeat(10_000) };
      writeExport(
        file,
        [1, 2, 3].map((n) => (n === 2 ? huge : { _id: n, email: `u${n}@example.com` })),
        { jsonArray },
      );
      assert.deepEqual(counts(await importFile('users', file)), {
        read: 3,
        inserted: 2,
        updated: 0,
        unchanged: 0,
        rejected: 1,
      });
      const [reject] = await query<{ position: string; reason: string; raw: string }>(
        'SELECT position, reason, raw FROM rejects WHERE source_ref = $1',
        [file],
      );
      const size = Buffer.byteLength(EJSON.stringify(huge, { relaxed: false }));
      assert.match(reject!.position, /^line \d+, byte \d+$/);
      assert.equal(
        reject!.reason,
        `document of ${size} bytes is above IMPORT_MAX_DOCUMENT_BYTES (4096); skipped unread`,
      );
      assert.equal(reject!.raw.length, 1024);
      assert.deepEqual(
        (await users()).map((u) => u.email),
        ['u1@example.com', 'u3@example.com'],
      );
    }
  });
});

describe('mongo-import: email uniqueness whatever IMPORT_BATCH_SIZE', () => {
  const tracker = failureTracker();
  const envs: TestEnvironment[] = [];
  let dir: string;

  before(async () => {
    for (const size of ['1', '1000']) {
      envs.push(
        await createTestEnvironment(`mongo_emails_${size}`, {
          IMPORT_BATCH_SIZE: size,
          IMPORT_MAX_REJECT_RATIO: '0.9',
        }),
      );
    }
    dir = mkdtempSync(join(tmpdir(), 'ctp-mongo-emails-'));
  });

  after(async () => {
    for (const env of envs) await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) rmSync(dir, { recursive: true, force: true });
  });

  it('takes the same users and rejects the same ones, with the same readable reasons, for batches of 1 and 1000', async () => {
    const file = join(dir, 'emails.json');
    // Pairs JavaScript's and PostgreSQL's lower() fold differently: a final sigma, a dotted capital I.
    const emails = ['ΣΑΣ@x.io', 'σασ@x.io', 'İ@z.io', 'i\u0307@z.io', 'kis@t.io', 'kıs@t.io'];
    writeExport(
      file,
      emails.map((email, i) => ({ _id: i + 1, email, createdAt: created })),
    );
    const outcomes = [];
    for (const env of envs) {
      const result = (await runJob(
        'mongo-import',
        { collection: 'users', file },
        recordingContext(env.runtime),
      )) as ImportResult;
      const kept = await env.db.pool.query<{ mongo_id: string; email: string }>(
        'SELECT mongo_id, email FROM users ORDER BY mongo_id',
      );
      const rejects = await env.db.pool.query<{ position: string; reason: string }>(
        'SELECT position, reason FROM rejects ORDER BY position',
      );
      outcomes.push({ counts: counts(result), users: kept.rows, rejects: rejects.rows });
    }
    assert.deepEqual(outcomes[0], outcomes[1]);
    assert.deepEqual(outcomes[0]!.counts, { read: 6, inserted: 4, updated: 0, unchanged: 0, rejected: 2 });
    assert.deepEqual(
      outcomes[0]!.users.map((u) => u.email),
      ['ΣΑΣ@x.io', 'İ@z.io', 'kis@t.io', 'kıs@t.io'],
    );
    assert.deepEqual(
      outcomes[0]!.rejects.map((r) => r.reason),
      [
        'email σασ@x.io is already used by user _id 1 as ΣΑΣ@x.io, so user _id 2 cannot have it (emails are unique whatever their case)',
        'email i\u0307@z.io is already used by user _id 3 as İ@z.io, so user _id 4 cannot have it (emails are unique whatever their case)',
      ],
    );
  });
});
