import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermanentJobError } from '../../src/errors.js';
import type { JobContext } from '../../src/jobs/job.js';
import type { RestoreResult } from '../../src/turso/restore-bot.js';
import { contextForLocalRun } from '../../src/workers/job-context.js';
import { runJob } from '../../src/workers/run-job.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { FIXTURES_SKIP } from '../../scripts/freqtrade/fixtures.js';
import { FIXTURES, createTestBot, editSource, sqliteSchema, sqliteTables } from '../helpers/turso-bots.js';

describe('turso-restore', () => {
  const tracker = failureTracker();
  let root: string;
  let env: TestEnvironment;
  let ctx: JobContext;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'turso-restore-'));
    env = await createTestEnvironment('turso_restore', {
      BOT_INSTANCES_DIR: path.join(root, 'bots'),
      TURSO_FILE_DIR: path.join(root, 'targets'),
    });
    ctx = contextForLocalRun(env.runtime);
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) await rm(root, { recursive: true, force: true });
  });

  for (const [i, fixture] of FIXTURES.entries()) {
    it(`restores the real ${fixture} equal to its source, row for row`, { skip: FIXTURES_SKIP }, async () => {
      const bot = await createTestBot(root, `bot-${i}`, fixture);
      await runJob('turso-push', { instance: bot.name }, ctx);
      const to = path.join(root, 'restored', `${bot.name}.sqlite`);
      const result = (await runJob(
        'turso-restore',
        { instance: bot.name, to: path.join(root, 'restored', `${bot.name}.sqlite`) },
        ctx,
      )) as RestoreResult;
      const source = sqliteTables(bot.dbPath);
      const restored = sqliteTables(to);
      assert.deepEqual([...restored.keys()], [...source.keys()]);
      for (const [name, table] of source) {
        assert.deepEqual(restored.get(name)?.columns, table.columns, `${fixture} ${name} columns`);
        assert.deepEqual(restored.get(name)?.rows, table.rows, `${fixture} ${name} rows`);
      }
      assert.deepEqual(sqliteSchema(to), sqliteSchema(bot.dbPath));
      assert.equal(
        result.rows,
        [...source.values()].reduce((sum, t) => sum + t.rows.length, 0),
      );
    });
  }

  it('restores the latest push after changes, deletions and a new column', async () => {
    const bot = await createTestBot(root, 'changing', { version: 'S11', trades: 40, seed: 2 });
    await runJob('turso-push', { instance: bot.name }, ctx);
    editSource(
      bot.dbPath,
      "DELETE FROM orders WHERE id = 1; UPDATE trades SET pair = 'X/Y' WHERE id = 2; ALTER TABLE orders ADD COLUMN note TEXT; UPDATE orders SET note = 'n'",
    );
    await runJob('turso-push', { instance: bot.name }, ctx);
    const to = path.join(root, 'restored', 'changing.sqlite');
    await runJob('turso-restore', { instance: bot.name, to }, ctx);
    const source = sqliteTables(bot.dbPath);
    const restored = sqliteTables(to);
    for (const [name, table] of source) assert.deepEqual(restored.get(name), table, name);
  });

  it('refuses to overwrite a file that holds data, and leaves no temporary file', async () => {
    const bot = await createTestBot(root, 'refuse', { version: 'S10', trades: 30, seed: 3 });
    await runJob('turso-push', { instance: bot.name }, ctx);
    const dir = path.join(root, 'refuse-dir');
    await rm(dir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const to = path.join(dir, 'existing.sqlite');
    await writeFile(to, 'precious');
    await assert.rejects(
      runJob('turso-restore', { instance: bot.name, to }, ctx),
      (error: Error) => error instanceof PermanentJobError && /refuse\b.*not empty/.test(error.message),
    );
    assert.equal((await stat(to)).size, 'precious'.length);
    assert.deepEqual(await readdir(dir), ['existing.sqlite']);
  });

  it('writes into an existing empty file', async () => {
    const to = path.join(root, 'empty.sqlite');
    await writeFile(to, '');
    const result = (await runJob('turso-restore', { instance: 'refuse', to }, ctx)) as RestoreResult;
    assert.ok(result.rows > 0);
    assert.deepEqual(
      sqliteTables(to).get('trades'),
      sqliteTables(path.join(root, 'bots', 'refuse', 'user_data', 'tradesv3.sqlite')).get('trades'),
    );
  });

  it('runs from the command line: ctp-etl run turso-restore --bot <instance> --to <path>', async () => {
    const to = path.join(root, 'cli-restored.sqlite');
    const { code, output } = await runCli(
      ['run', 'turso-restore', '--bot', 'changing', '--to', to],
      cliEnv(env.config, {
        BOT_INSTANCES_DIR: env.config.BOT_INSTANCES_DIR,
        TURSO_FILE_DIR: env.config.TURSO_FILE_DIR,
      }),
    );
    assert.equal(code, 0, output);
    assert.match(output, /"job":"turso-restore".*"rows":\d+/);
    assert.deepEqual(
      sqliteTables(to),
      sqliteTables(path.join(root, 'bots', 'changing', 'user_data', 'tradesv3.sqlite')),
    );
  });
});
