import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EJSON } from 'bson';
import { MongoClient, type Document } from 'mongodb';
import pg from 'pg';
import { migrate } from '../src/migrate/migrate.js';
import { quoteIdent } from '../src/sql-identifier.js';
import { snapshotDoc, userDoc, withoutDecimal128 } from '../scripts/mongo/documents.js';

/**
 * mongo-import throughput and memory: users and snapshots (BENCH_SCALE=1: 100,000 and
 * 1,000,000; default 0.1) written to mongoexport files and into MongoDB (FerretDB in the test
 * setup), then imported from each, by the built JavaScript under plain node (as in the image)
 * and by the sources under tsx. Every import runs in a child process of its own
 * (mongo-import-child.mjs), so its peak RSS is its own. Targets: >= 50,000 documents/s from a
 * file, peak RSS < 250 MB.
 */
const scale = Number(process.env.BENCH_SCALE ?? '0.1');
const USERS = Math.round(100_000 * scale);
const SNAPSHOTS = Math.round(1_000_000 * scale);
const DATABASE_URL =
  process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MONGO_BASE = process.env.TEST_MONGO_URL ?? 'mongodb://127.0.0.1:27017/';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('mongo-import-child.mjs', import.meta.url));
/** Built as the image builds it (less the .d.ts files), out of the way of dist/: node finds the packages in the repository's node_modules. */
const BUILD = join(ROOT, '.tmp', 'bench-dist');

await main();

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
    log({
      phase: 'generate files',
      users: USERS,
      snapshots: SNAPSHOTS,
      bytes: statSync(files.users).size + statSync(files.snapshots).size,
      ms: Date.now() - started,
    });

    started = Date.now();
    await mongo.connect();
    await loadMongo(mongo, 'users', USERS, userDoc);
    await loadMongo(mongo, 'portfoliosnapshots', SNAPSHOTS, (n) => snapshotDoc(n, 1 + (n % USERS)));
    log({ phase: 'load MongoDB', ms: Date.now() - started });

    started = Date.now();
    const build = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(ROOT, 'tsconfig.build.json'),
        '--outDir',
        BUILD,
        '--declaration',
        'false',
      ],
      { stdio: 'inherit' },
    );
    if (build.status !== 0) throw new Error('tsc build for the plain node runs failed');
    log({ phase: 'build JavaScript', ms: Date.now() - started });

    // Production runs the built JavaScript with plain node; tsx costs the process some 40 MB more.
    const runtimes = [
      { name: 'node', args: [CHILD], code: BUILD },
      { name: 'tsx', args: ['--import', 'tsx', CHILD], code: join(ROOT, 'src') },
    ];
    for (const source of ['file', 'live'] as const) {
      for (const runtime of runtimes) {
        await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
        await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
        const pool = new pg.Pool({ connectionString: DATABASE_URL, options: `-c search_path=${schema}` });
        await migrate(pool, schema);
        await pool.end();
        const child = spawnSync(process.execPath, runtime.args, {
          stdio: 'inherit',
          env: {
            ...process.env,
            BENCH_SCALE: String(scale),
            BENCH_CODE: runtime.code,
            BENCH_RUNTIME: runtime.name,
            DATABASE_URL,
            PG_SCHEMA: schema,
            MONGO_URL: mongoUrl,
            BENCH_SOURCE: source,
            BENCH_USERS_FILE: files.users,
            BENCH_SNAPSHOTS_FILE: files.snapshots,
            LOG_LEVEL: 'warn',
          },
        });
        if (child.status !== 0) throw new Error(`${source} import under ${runtime.name} failed`);
      }
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
    await admin.end();
    await mongo
      .db()
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
    rmSync(dir, { recursive: true, force: true });
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

async function loadMongo(
  client: MongoClient,
  collection: string,
  count: number,
  make: (n: number) => Document,
): Promise<void> {
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
