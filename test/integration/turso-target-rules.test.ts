import assert from 'node:assert/strict';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createClient } from '@libsql/client';
import { PermanentJobError } from '../../src/errors.js';
import type { JobContext } from '../../src/jobs/job.js';
import { contextForLocalRun } from '../../src/workers/job-context.js';
import { runJob } from '../../src/workers/run-job.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment } from '../helpers/test-runtime.js';
import { createTestBot, writeSyncConfig } from '../helpers/turso-bots.js';

/** Issue 11.1: a bot's sync-config.json reaches only backup targets, never other files. */
describe('turso targets: where a bot config may write', () => {
  const dir = tempDir('turso-rules');
  const root = dir.path;
  const targets = path.join(root, 'targets');
  const env = suiteEnvironment(
    'turso_rules',
    { BOT_INSTANCES_DIR: path.join(root, 'bots'), TURSO_FILE_DIR: targets },
    { dir },
  );
  let ctx: JobContext;

  const push = (instance: string) => runJob('turso-push', { instance }, ctx);
  /** Fails permanently, naming the bot, the target and the rule. */
  const assertRefused = async (instance: string, target: RegExp, rule: RegExp) =>
    assert.rejects(push(instance), (error: Error) => {
      assert.ok(error instanceof PermanentJobError, `${error.name}: ${error.message}`);
      assert.match(error.message, new RegExp(`^bot ${instance}: `));
      assert.match(error.message, target);
      assert.match(error.message, rule);
      assert.match(error.message, /sync-config\.json/);
      return true;
    });
  const ownerOf = async (file: string) => {
    const client = createClient({ url: `file:${file}` });
    try {
      return (await client.execute("SELECT value FROM _ctp_etl_target WHERE key = 'instance'")).rows[0]?.[0];
    } finally {
      client.close();
    }
  };

  before(async () => {
    ctx = contextForLocalRun(env.runtime);
    // The victim: a bot with a live database and a backup of its own.
    await createTestBot(root, 'victim', { version: 'S06', trades: 25, seed: 32 });
    await push('victim');
  });

  it('marks a target it creates with its owning bot, relative URLs read against TURSO_FILE_DIR', async () => {
    assert.equal(await ownerOf(path.join(targets, 'victim.db')), 'victim');
    await createTestBot(root, 'relative', { version: 'S08', trades: 1, seed: 33 }, { tursoUrl: 'file:relative.db' });
    await push('relative');
    assert.equal(await ownerOf(path.join(targets, 'relative.db')), 'relative');
  });

  it("refuses another bot's live database (a relative path up into BOT_INSTANCES_DIR), leaving it untouched", async () => {
    const victimDb = path.join(root, 'bots', 'victim', 'user_data', 'tradesv3.sqlite');
    const before = await readFile(victimDb);
    await createTestBot(
      root,
      'attacker',
      { version: 'S05', trades: 20, seed: 31 },
      {
        tursoUrl: 'file:../bots/victim/user_data/tradesv3.sqlite',
      },
    );
    await assertRefused('attacker', /victim[/\\]user_data[/\\]tradesv3\.sqlite/, /inside TURSO_FILE_DIR/);
    assert.deepEqual(await readFile(victimDb), before);
  });

  it('refuses a file target inside BOT_INSTANCES_DIR even when TURSO_FILE_DIR holds it', async () => {
    const inside = await createTestEnvironment('turso_rules_inside', {
      BOT_INSTANCES_DIR: path.join(root, 'bots'),
      TURSO_FILE_DIR: path.join(root, 'bots'),
    });
    try {
      await writeSyncConfig(root, 'attacker', { tursoUrl: 'file:victim/user_data/tradesv3.sqlite', enabled: true });
      await assert.rejects(
        runJob('turso-push', { instance: 'attacker' }, contextForLocalRun(inside.runtime)),
        (error: Error) => error instanceof PermanentJobError && /never be inside BOT_INSTANCES_DIR/.test(error.message),
      );
    } finally {
      await inside.cleanup({ keep: env.failed });
    }
  });

  it("refuses another bot's backup by absolute path, and leaves it as it was", async () => {
    const victimTarget = path.join(targets, 'victim.db');
    const before = await readFile(victimTarget);
    await writeSyncConfig(root, 'attacker', { tursoUrl: `file:${victimTarget}`, enabled: true });
    await assertRefused('attacker', /victim\.db/, /it is the target of bot victim, not of attacker/);
    assert.deepEqual(await readFile(victimTarget), before);
  });

  it('refuses an absolute path outside TURSO_FILE_DIR and creates nothing there', async () => {
    const elsewhere = path.join(root, 'elsewhere');
    await mkdir(elsewhere, { recursive: true });
    await writeSyncConfig(root, 'attacker', { tursoUrl: `file:${path.join(elsewhere, 'new.db')}`, enabled: true });
    await assertRefused('attacker', /elsewhere[/\\]new\.db/, /inside TURSO_FILE_DIR/);
    await assert.rejects(stat(path.join(elsewhere, 'new.db')), { code: 'ENOENT' });
  });

  it('refuses a symlink in TURSO_FILE_DIR that points out of it', async () => {
    const victimDb = path.join(root, 'bots', 'victim', 'user_data', 'tradesv3.sqlite');
    const before = await readFile(victimDb);
    await symlink(victimDb, path.join(targets, 'link.db'));
    await writeSyncConfig(root, 'attacker', { tursoUrl: 'file:link.db', enabled: true });
    await assertRefused('attacker', /link\.db/, /symlinks resolved|BOT_INSTANCES_DIR/);
    assert.deepEqual(await readFile(victimDb), before);
  });

  it('refuses an existing file this pipeline did not create (empty, or a SQLite database), untouched', async () => {
    await writeFile(path.join(targets, 'empty.db'), '');
    await writeSyncConfig(root, 'attacker', { tursoUrl: 'file:empty.db', enabled: true });
    await assertRefused('attacker', /empty\.db/, /not created by this pipeline/);
    assert.equal((await stat(path.join(targets, 'empty.db'))).size, 0);

    const foreign = path.join(targets, 'foreign.db');
    const db = new Database(foreign);
    db.exec('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (1)');
    db.close();
    const bytes = await readFile(foreign);
    await writeSyncConfig(root, 'attacker', { tursoUrl: 'file:foreign.db', enabled: true });
    await assertRefused('attacker', /foreign\.db/, /not created by this pipeline/);
    assert.deepEqual(await readFile(foreign), bytes);

    await writeFile(path.join(targets, 'text.db'), 'not a database at all, but a file someone keeps');
    await writeSyncConfig(root, 'attacker', { tursoUrl: 'file:text.db', enabled: true });
    await assertRefused('attacker', /text\.db/, /not a database this pipeline created/);
  });

  it('refuses remote targets that are not libsql:// or https://, and plain http:// off this machine', async () => {
    for (const [url, rule] of [
      ['http://turso.example.com', /unencrypted target .* only on this machine/],
      ['libsql://turso.example.com?tls=0', /unencrypted target .* only on this machine/],
      ['wss://turso.example.com', /must be a libsql:\/\/ or https:\/\/ URL/],
    ] as const) {
      await writeSyncConfig(root, 'attacker', { tursoUrl: url, tursoToken: 't0k', enabled: true });
      await assertRefused('attacker', /turso\.example\.com/, rule);
    }
  });

  it('names the URL and the reason when the Turso port is closed, and retries', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    await writeSyncConfig(root, 'attacker', { tursoUrl: `http://127.0.0.1:${port}`, tursoToken: 't0k', enabled: true });
    await assert.rejects(push('attacker'), (error: Error) => {
      assert.ok(!(error instanceof PermanentJobError), 'a closed port may open again: retried');
      assert.match(error.message, new RegExp(`http://127\\.0\\.0\\.1:${port}`));
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
  });

  it('fails permanently on a token with a line break, without showing it', async () => {
    await writeSyncConfig(root, 'attacker', {
      tursoUrl: 'libsql://turso.example.com',
      tursoToken: 'secret-part\nsecond-line',
      enabled: true,
    });
    await assert.rejects(push('attacker'), (error: Error) => {
      assert.ok(error instanceof PermanentJobError);
      assert.match(error.message, /tursoToken: holds a line break/);
      assert.doesNotMatch(error.message, /secret-part/);
      return true;
    });
  });

  it('refuses a sync-config.json above 64 KiB without parsing it', async () => {
    const big = JSON.stringify({ tursoUrl: 'file:big.db', enabled: true, padding: 'x'.repeat(70 * 1024) });
    await writeFile(path.join(root, 'bots', 'attacker', 'sync-config.json'), big);
    await assertRefused('attacker', /sync-config\.json/, /above the 65536-byte limit/);
  });

  it("refuses to restore another bot's backup", async () => {
    await writeSyncConfig(root, 'attacker', { tursoUrl: `file:victim.db`, enabled: true });
    const to = path.join(root, 'restored.sqlite');
    await assert.rejects(
      runJob('turso-restore', { instance: 'attacker', to }, ctx),
      (error: Error) =>
        error instanceof PermanentJobError && /bot attacker: .*it is the target of bot victim/.test(error.message),
    );
    await assert.rejects(stat(to), { code: 'ENOENT' });
  });
});
