import assert from 'node:assert/strict';
import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { contextForLocalRun } from '../../src/workers/job-context.js';
import { runJob } from '../../src/workers/run-job.js';
import { writeExport, userDoc } from '../../scripts/mongo/documents.js';
import type { QueueHarness } from '../helpers/queue-harness.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestBot, sqliteTables } from '../helpers/turso-bots.js';

/**
 * Issue 11.12: a path in a queued job's payload (the board's add-job API is just a payload)
 * reaches only IMPORT_FILES_DIR (imports) and RESTORE_DIR (restores); `run` may name any path.
 */
describe('paths in queued payloads', () => {
  const dir = tempDir('payload-paths');
  const root = dir.path;
  const env = suiteEnvironment(
    'payload_paths',
    {
      BOT_INSTANCES_DIR: path.join(root, 'bots'),
      TURSO_FILE_DIR: path.join(root, 'targets'),
      IMPORT_FILES_DIR: path.join(root, 'exports'),
      RESTORE_DIR: path.join(root, 'restores'),
    },
    { dir },
  );
  let imports: QueueHarness;
  let restores: QueueHarness;

  /** What the board's add-job API does: a raw payload on the queue, no CLI in between. */
  const queued = async (harness: QueueHarness, name: 'mongo-import' | 'turso-restore', payload: object) => {
    const job = await harness.queues.get(name)!.add(name, payload, { attempts: 3 });
    return job.waitUntilFinished(harness.events, 30_000);
  };
  const rejectCount = async () =>
    Number((await env.runtime.pg.query<{ n: string }>('SELECT count(*) AS n FROM rejects')).rows[0]!.n);

  before(async () => {
    await mkdir(path.join(root, 'exports'));
    imports = await env.startQueueHarness('mongo-import');
    restores = await env.startQueueHarness('turso-restore');
  });

  it('refuses an import file outside IMPORT_FILES_DIR, copying nothing of it into rejects', async () => {
    const outside = path.join(root, 'secret.txt');
    await writeFile(outside, 'root:x:0:0:not an export\n');
    await assert.rejects(
      queued(imports, 'mongo-import', { collection: 'users', file: outside }),
      /mongo-import users: .*secret\.txt is refused: a queued job may only use files inside IMPORT_FILES_DIR/,
    );
    assert.equal(await rejectCount(), 0);
  });

  it('refuses a symlink in IMPORT_FILES_DIR that leads out of it, naming where it leads', async () => {
    await symlink(path.join(root, 'secret.txt'), path.join(root, 'exports', 'innocent.json'));
    await assert.rejects(
      queued(imports, 'mongo-import', { collection: 'users', file: 'innocent.json' }),
      /innocent\.json is refused: .*IMPORT_FILES_DIR .*links to .*secret\.txt/,
    );
    assert.equal(await rejectCount(), 0);
  });

  it('imports a file inside IMPORT_FILES_DIR, relative names read against it', async () => {
    writeExport(path.join(root, 'exports', 'users.json'), [userDoc(1), userDoc(2)]);
    const result = (await queued(imports, 'mongo-import', { collection: 'users', file: 'users.json' })) as {
      inserted: number;
    };
    assert.equal(result.inserted, 2);
  });

  it('refuses a restore outside RESTORE_DIR and writes nothing; writes inside it', async () => {
    const bot = await createTestBot(root, 'restorer', { version: 'S06', trades: 25, seed: 32 });
    await runJob('turso-push', { instance: bot.name }, contextForLocalRun(env.runtime));
    const outside = path.join(root, 'bots', 'restorer', 'user_data', 'overwrite.sqlite');
    await assert.rejects(
      queued(restores, 'turso-restore', { instance: bot.name, to: outside }),
      /bot restorer: turso-restore: .*overwrite\.sqlite is refused: a queued job may only use files inside RESTORE_DIR/,
    );
    await assert.rejects(stat(outside), { code: 'ENOENT' });
    await queued(restores, 'turso-restore', { instance: bot.name, to: 'restorer.sqlite' });
    assert.deepEqual(sqliteTables(path.join(root, 'restores', 'restorer.sqlite')), sqliteTables(bot.dbPath));
  });

  it('lets `run` in the operator shell name any path', async () => {
    const anywhere = path.join(root, 'anywhere.sqlite');
    await runJob('turso-restore', { instance: 'restorer', to: anywhere }, contextForLocalRun(env.runtime));
    assert.ok((await stat(anywhere)).size > 0);
  });
});
