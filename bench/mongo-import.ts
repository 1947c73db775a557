import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EJSON } from 'bson';
import { MongoClient, type Document } from 'mongodb';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { runImport } from '../src/jobs/mongo-import/run-import.js';
import { openFileSource } from '../src/jobs/mongo-import/file-source.js';
import { openLiveSource } from '../src/jobs/mongo-import/live-source.js';
import { snapshotsTarget, usersTarget } from '../src/jobs/mongo-import/targets.js';
import { migrate, quoteIdent } from '../src/migrate/migrate.js';
import { Runtime } from '../src/runtime/runtime.js';
import { contextForLocalRun } from '../src/workers/job-context.js';
import { snapshotDoc, userDoc } from '../test/helpers/mongo-docs.js';
import { withoutDecimal128 } from '../test/helpers/test-mongo.js';

/**
 * mongo-import throughput and memory: users and snapshots (BENCH_SCALE=1: 100,000 and
 * 1,000,000; default 0.1) written to mongoexport files and into MongoDB (FerretDB in the test
 * setup), then imported from each. Every import runs in a child process of its own, so its peak
 * RSS is its own. Targets: >= 50,000 documents/s from a file, peak RSS < 250 MB.
 */
const scale = Number(process.env.BENCH_SCALE ?? '0.1');
const USERS = Math.round(100_000 * scale);
const SNAPSHOTS = Math.round(1_000_000 * scale);
const DATABASE_URL = process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MONGO_BASE = process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017/';

if (process.argv[2] === 'import') await importPhase();
else await main();

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ctp-bench-mongo-'));
  const schema = `bench_mongo_import_${process.pid}`;
  const mongoUrl = `${MONGO_BASE.endsWith('/') ? MONGO_BASE : `${MONGO_BASE}/`}bench_mongo_import_${process.pid}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  const mongo = new MongoClient(mongoUrl);
  try {
    const files = { users: join(dir, 'users.json'), snapshots: join(dir, 'portfoliosnapshots.json') };
    let started = Date.now();
    await writeExport(files.users, USERS, userDoc);
    await writeExport(files.snapshots, SNAPSHOTS, (n) => snapshotDoc(n, 1 + (n % USERS)));
    log({ phase: 'generate files', users: USERS, snapshots: SNAPSHOTS, bytes: statSync(files.users).size + statSync(files.snapshots).size, ms: Date.now() - started });

    started = Date.now();
    await mongo.connect();
    await loadMongo(mongo, 'users', USERS, userDoc);
    await loadMongo(mongo, 'portfoliosnapshots', SNAPSHOTS, (n) => snapshotDoc(n, 1 + (n % USERS)));
    log({ phase: 'load MongoDB', ms: Date.now() - started });

    for (const source of ['file', 'live'] as const) {
      await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
      const pool = new pg.Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
      await migrate(pool, schema);
      await pool.end();
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'import'], {
        stdio: 'inherit',
        env: { ...process.env, DATABASE_URL, PG_SCHEMA: schema, MONGO_URL: mongoUrl, BENCH_SOURCE: source, BENCH_USERS_FILE: files.users, BENCH_SNAPSHOTS_FILE: files.snapshots, LOG_LEVEL: 'warn' },
      });
      if (child.status !== 0) throw new Error(`${source} import failed`);
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
    await admin.end();
    await mongo.db().dropDatabase().catch(() => undefined);
    await mongo.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function importPhase(): Promise<void> {
  const config = loadConfig();
  const runtime = new Runtime(config);
  const ctx = contextForLocalRun(runtime);
  const source = process.env.BENCH_SOURCE === 'live' ? 'live' : 'file';
  const options = { batchSize: config.IMPORT_BATCH_SIZE, maxRejectRatio: 0 };
  try {
    let total = 0;
    await runtime.pg.query('SELECT 1');
    if (source === 'live') await runtime.mongo();
    log({ phase: `${source} import process ready`, rssMB: Math.round(process.memoryUsage().rss / 1e6) });
    const started = performance.now();
    for (const collection of ['users', 'portfoliosnapshots'] as const) {
      const t0 = performance.now();
      const from =
        source === 'file'
          ? await openFileSource(collection, collection === 'users' ? process.env.BENCH_USERS_FILE! : process.env.BENCH_SNAPSHOTS_FILE!)
          : await openLiveSource(collection, (await runtime.mongo()).db, collection, config.IMPORT_BATCH_SIZE);
      const result = collection === 'users' ? await runImport(ctx, from, usersTarget, options) : await runImport(ctx, from, snapshotsTarget, options);
      const seconds = (performance.now() - t0) / 1000;
      total += result.read;
      log({ phase: `import ${collection} from ${source}`, documents: result.read, inserted: result.inserted, rejected: result.rejected, seconds: round(seconds), docsPerSecond: Math.round(result.read / seconds), heapMB: Math.round(process.memoryUsage().heapTotal / 1e6), rssMB: Math.round(process.memoryUsage().rss / 1e6) });
    }
    const seconds = (performance.now() - started) / 1000;
    log({ phase: `import all from ${source}`, documents: total, seconds: round(seconds), docsPerSecond: Math.round(total / seconds), peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) });
  } finally {
    await runtime.close();
  }
}

async function writeExport(path: string, count: number, make: (n: number) => Document): Promise<void> {
  const out = createWriteStream(path);
  for (let n = 1; n <= count; n++) {
    if (!out.write(`${EJSON.stringify(make(n), { relaxed: false })}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function loadMongo(client: MongoClient, collection: string, count: number, make: (n: number) => Document): Promise<void> {
  const target = client.db().collection(collection);
  for (let from = 1; from <= count; from += 5000) {
    const docs: Document[] = [];
    for (let n = from; n < Math.min(from + 5000, count + 1); n++) docs.push(withoutDecimal128(make(n)) as Document);
    await target.insertMany(docs, { ordered: false });
  }
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'mongo-import', scale, ...fields })}\n`);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
