import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { QueueEvents } from 'bullmq';
import type { Document } from 'mongodb';
import { createRedis } from '../../src/connections/redis.js';
import { createQueues } from '../../src/queues/queues.js';
import { cliEnv } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { random } from '../../scripts/freqtrade/trade-plan.js';
import { importCorpus, writeExportStream, type CorpusEntry, type ExpectedRows } from '../helpers/import-corpus.js';
import { compareImport } from '../helpers/import-equality.js';
import { RandomKiller } from '../helpers/random-killer.js';
import { tempDir } from '../helpers/temp-dir.js';
import { withoutDecimal128 } from '../../scripts/mongo/documents.js';
import { createTestMongo, type TestMongo } from '../helpers/test-mongo.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { WorkerFleet } from '../helpers/worker-fleet.js';
import { reliability } from './reliability-report.js';
import { faultWorkerSettings } from './worker-settings.js';

const USERS = Number(process.env.FAULT_USERS ?? '3000');
const SNAPSHOTS = Number(process.env.FAULT_SNAPSHOTS ?? '200000');
const LIVE_SNAPSHOTS = Number(process.env.FAULT_LIVE_SNAPSHOTS ?? '20000');

const workerSettings = faultWorkerSettings;

interface ImportResult {
  read: number;
  inserted: number;
  updated: number;
  rejected: number;
}

type Payload = { collection: 'users' | 'portfoliosnapshots'; file?: string };

interface KillRun {
  jobs: number;
  kills: number;
  /** Kills that hit the worker running the import (BullMQ saw the job stall). */
  stalls: number;
  /** The longest time from a kill to the import's next committed batch. */
  recoveryMs: number;
}

/**
 * Runs the users import, then the snapshots import, as `mongo-import` jobs on real workers that
 * a RandomKiller keeps killing; then again (a re-run, which must change nothing), and again
 * until `minKills` kills.
 */
async function importUnderKills(
  env: TestEnvironment,
  workerEnv: NodeJS.ProcessEnv,
  payloads: readonly Payload[],
  expected: ExpectedRows,
  minKills: number,
  seed: number,
): Promise<KillRun> {
  const rnd = random(seed);
  const connection = createRedis(env.config, 'worker');
  const queue = createQueues(env.config, connection, ['mongo-import']).get('mongo-import')!;
  // BullMQ does not close a connection it was given: both are disconnected here at the end.
  const eventsConnection = createRedis(env.config, 'worker');
  const events = new QueueEvents('mongo-import', { connection: eventsConnection, prefix: env.config.QUEUE_PREFIX });
  await events.waitUntilReady();
  // concurrency 1 and two workers: one import at a time, so every other kill hits the one running it.
  const fleet = new WorkerFleet(['--queues', 'mongo-import', '--concurrency', '1'], workerEnv);
  let stalls = 0;
  let recoveryMs = 0;
  let killer: RandomKiller | undefined;
  let seenKills = 0;
  const moved = () => {
    if (!killer || seenKills >= killer.killedAt.length) return;
    recoveryMs = Math.max(recoveryMs, Date.now() - killer.killedAt[seenKills]!);
    seenKills = killer.killedAt.length;
  };
  events.on('progress', moved);
  events.on('completed', moved);
  events.on('stalled', () => (stalls += 1));
  let jobs = 0;
  try {
    await fleet.start(2);
    killer = new RandomKiller(fleet, rnd);
    for (let round = 0; round < 2 || fleet.kills < minKills; round++) {
      assert.ok(round < 60, `only ${fleet.kills} kills after 60 rounds`);
      const roundStart = (await env.db.pool.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
      const results: ImportResult[] = [];
      for (const payload of payloads) {
        const job = await queue.add(`mongo-import ${payload.collection} round ${round}`, payload);
        jobs += 1;
        const started = Date.now();
        results.push((await job.waitUntilFinished(events, 600_000)) as ImportResult);
        const done = await queue.getJob(job.id!);
        const reasons = (done?.stacktrace ?? []).map((trace) => trace.split('\n')[0]).join(' | ');
        process.stdout.write(
          `# ${job.name}: ${Date.now() - started} ms, ${done?.attemptsMade ?? '?'} attempts, ${done?.stalledCounter ?? '?'} stalls${reasons ? `; failed attempts: ${reasons}` : ''}\n`,
        );
      }
      const [users, snapshots] = results as [ImportResult, ImportResult];
      // Counts come from checkpoints committed with their batches: exact, however often the job died.
      assert.deepEqual(
        { users: users.rejected, snapshots: snapshots.rejected },
        { users: expected.userRejects, snapshots: expected.snapshotRejects },
        `round ${round}: rejects`,
      );
      if (round === 0) {
        assert.deepEqual(
          { users: [users.inserted, users.updated], snapshots: [snapshots.inserted, snapshots.updated] },
          { users: [expected.users.size, 0], snapshots: [expected.snapshots.size, 0] },
          'the first import inserts each row once',
        );
      } else {
        assert.deepEqual(
          [users.inserted, users.updated, snapshots.inserted, snapshots.updated],
          [0, 0, 0, 0],
          `re-run ${round} changes nothing`,
        );
        const touched = await env.db.pool.query<{ n: number }>(
          'SELECT (SELECT count(*) FROM users WHERE imported_at >= $1) + (SELECT count(*) FROM portfolio_snapshots WHERE imported_at >= $1) AS n',
          [roundStart],
        );
        assert.equal(Number(touched.rows[0]!.n), 0, `re-run ${round} wrote no row`);
      }
    }
    await killer.stop();
    assert.equal(await queue.getJobCountByTypes('failed'), 0, 'no job failed for good');
    return { jobs, kills: fleet.kills, stalls, recoveryMs };
  } catch (error) {
    throw new Error(`${String(error)}\n${fleet.outputs()}`, { cause: error });
  } finally {
    await killer?.stop().catch(() => undefined);
    await fleet.stop();
    await events.close();
    await queue.close();
    connection.disconnect();
    eventsConnection.disconnect();
  }
}

async function assertExact(env: TestEnvironment, fault: string, run: KillRun, expected: ExpectedRows): Promise<void> {
  const equality = await compareImport(env.db.pool, expected);
  reliability({
    fault,
    runs: run.jobs,
    rowsLost: equality.lost,
    rowsDuplicated: equality.duplicated,
    recoveryMs: run.recoveryMs,
    sourceRows: equality.sourceRows,
  });
  assert.ok(run.stalls > 0, 'kills hit the running import');
  assert.deepEqual(
    {
      users: equality.users,
      snapshots: equality.snapshots,
      lost: equality.lost,
      duplicated: equality.duplicated,
      changed: equality.changed,
    },
    { users: expected.users.size, snapshots: expected.snapshots.size, lost: 0, duplicated: 0, changed: 0 },
    'PostgreSQL holds the documents minus the rejects, each once',
  );
  assert.equal(equality.checksums.users[1], equality.checksums.users[0], 'users checksum over (mongo_id, email)');
  assert.equal(
    equality.checksums.snapshots[1],
    equality.checksums.snapshots[0],
    'snapshots checksum over (mongo_id, total_value)',
  );
  const dupes = await env.db.pool.query(
    'SELECT mongo_id FROM portfolio_snapshots GROUP BY mongo_id HAVING count(*) > 1 UNION ALL SELECT mongo_id FROM users GROUP BY mongo_id HAVING count(*) > 1',
  );
  assert.equal(dupes.rowCount, 0, 'no mongo_id twice');
}

describe('faults during mongo-import: kill -9 of workers', { timeout: 20 * 60_000 }, () => {
  const tracker = failureTracker();
  const dir = tempDir('faults-import');
  const environments: TestEnvironment[] = [];
  const environment = async (label: string, extra: Record<string, string> = {}) => {
    // Producers set attempts and backoff on each job: the same settings as the workers.
    const env = await createTestEnvironment(label, { ...workerSettings, ...extra, LOG_LEVEL: 'silent' });
    environments.push(env);
    return env;
  };

  const mongos: TestMongo[] = [];

  after(async () => {
    for (const env of environments) await env.cleanup({ keep: tracker.failed });
    for (const mongo of mongos) await mongo.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it(`kill -9 of workers during a ${SNAPSHOTS}-snapshot import from mongoexport files: every job completes, PostgreSQL equals the export`, async () => {
    const corpus = importCorpus(USERS, SNAPSHOTS, { malformedLines: true });
    const files = {
      users: path.join(dir.path, 'users.json'),
      snapshots: path.join(dir.path, 'portfoliosnapshots.json'),
    };
    await writeExportStream(files.users, corpus.users());
    await writeExportStream(files.snapshots, corpus.snapshots());
    const env = await environment('faults_mongo_import_file');
    const payloads: Payload[] = [
      { collection: 'users', file: files.users },
      { collection: 'portfoliosnapshots', file: files.snapshots },
    ];
    // Queued payloads reach only IMPORT_FILES_DIR: the workers get the corpus folder as theirs.
    const workerEnv = cliEnv(env.config, { ...workerSettings, IMPORT_FILES_DIR: dir.path });
    const run = await importUnderKills(env, workerEnv, payloads, corpus.expected, 20, 2027);
    assert.ok(run.kills >= 20, `${run.kills} kills`);
    await assertExact(
      env,
      `kill -9 of a worker during a mongoexport import (${run.kills} kills, ${run.stalls} hit the import)`,
      run,
      corpus.expected,
    );
  });

  it(`kill -9 of workers during a ${LIVE_SNAPSHOTS}-snapshot import from a live MongoDB (FerretDB): PostgreSQL equals the collections`, async () => {
    const corpus = importCorpus(USERS, LIVE_SNAPSHOTS, { malformedLines: false });
    const mongo = await createTestMongo('faults_import_live');
    mongos.push(mongo);
    await load(mongo.db.collection('users'), corpus.users());
    await load(mongo.db.collection('portfoliosnapshots'), corpus.snapshots());
    const env = await environment('faults_mongo_import_live', { MONGO_URL: mongo.url });
    const payloads: Payload[] = [{ collection: 'users' }, { collection: 'portfoliosnapshots' }];
    const run = await importUnderKills(
      env,
      cliEnv(env.config, { ...workerSettings, MONGO_URL: mongo.url }),
      payloads,
      corpus.expected,
      10,
      2028,
    );
    await assertExact(
      env,
      `kill -9 of a worker during a live MongoDB import (${run.kills} kills, ${run.stalls} hit the import)`,
      run,
      corpus.expected,
    );
  });
});

/** Inserts the corpus into a collection, 1,000 documents per request (FerretDB has no Decimal128). */
async function load(
  collection: { insertMany(docs: Document[]): Promise<unknown> },
  entries: Iterable<CorpusEntry>,
): Promise<void> {
  let batch: Document[] = [];
  for (const entry of entries) {
    if (typeof entry === 'string') continue;
    batch.push(withoutDecimal128(entry) as Document);
    if (batch.length === 1000) {
      await collection.insertMany(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await collection.insertMany(batch);
}
