import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedis } from '../../src/connections/redis.js';
import { closeQueues, createQueues } from '../../src/queues/queues.js';
import { cliEnv, runCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { createTestBot, editSource, libsqlTables, type TestBot } from '../helpers/turso-bots.js';
import { waitFor } from '../helpers/wait-for.js';

type Host = 'host-a' | 'host-b';

interface StatusJson {
  held?: Array<{ instance: string; job: string; reason: string; message: string }>;
  assignments: Array<{ instance: string; host: string; assignedBy: string; ignored: Array<{ host: string }> }>;
}

/**
 * Two hosts that both hold a copy of one bot (an old copy left on host-a, the live bot on
 * host-b): neither copy may be synced or pushed, until one copy goes away or an operator names
 * the owner. A bot that moves from one host to the other is no conflict: it follows its new host.
 */
describe('a bot two hosts claim (BOT_DISCOVERY=hosts)', { timeout: 5 * 60_000 }, () => {
  const tracker = failureTracker();
  const dir = tempDir('conflict');
  const roots: Record<Host, string> = {
    'host-a': path.join(dir.path, 'host-a'),
    'host-b': path.join(dir.path, 'host-b'),
  };
  const bots: Record<string, Partial<Record<Host, TestBot>>> = {};
  let env: TestEnvironment;
  const processes: CliProcess[] = [];
  const common = { BOT_DISCOVERY: 'hosts', SYNC_INTERVAL: '1s', TURSO_PUSH_INTERVAL: '1s', DISCOVERY_INTERVAL: '1s' };
  const hostEnv = (host: Host) =>
    cliEnv(env.config, {
      ...common,
      WORKER_HOST: host,
      BOT_INSTANCES_DIR: path.join(roots[host], 'bots'),
      TURSO_FILE_DIR: path.join(roots[host], 'targets'),
    });
  const centralEnv = (extra: Record<string, string> = {}) =>
    cliEnv(env.config, { ...common, BOT_INSTANCES_DIR: path.join(dir.path, 'none'), LOG_LEVEL: 'silent', ...extra });

  const tradesInPostgres = async (bot: string): Promise<number> => {
    const { rows } = await env.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM trades_aggregated t JOIN bots b ON b.id = t.bot_id WHERE b.instance_id = $1`,
      [bot],
    );
    return rows[0]!.n;
  };
  const status = async (): Promise<StatusJson> => {
    const { code, output } = await runCli(['status', '--json'], centralEnv());
    assert.equal(code, 0, output);
    return JSON.parse(output) as StatusJson;
  };
  const conflicted = async (): Promise<string[]> =>
    [...new Set(((await status()).held ?? []).filter((h) => h.reason === 'conflict').map((h) => h.instance))].sort();

  before(async () => {
    env = await createTestEnvironment('bot_conflict', { BOT_DISCOVERY: 'hosts' });
    // twin: an old copy (200 trades) on host-a, the live bot (240) on host-b; pair: the same, smaller.
    for (const [bot, old, live] of [
      ['twin', 200, 240],
      ['pair', 50, 70],
    ] as const) {
      bots[bot] = {
        'host-a': await createTestBot(roots['host-a'], bot, { trades: old, seed: 7 }),
        'host-b': await createTestBot(roots['host-b'], bot, { trades: live, seed: 7 }),
      };
    }
    bots.mover = { 'host-a': await createTestBot(roots['host-a'], 'mover', { trades: 30, seed: 3 }) };
    mkdirSync(path.join(roots['host-b'], 'bots'), { recursive: true });
    for (const host of ['host-a', 'host-b'] as const) {
      const worker = startCli(['worker', '--queues', 'bot-sync,turso-push'], hostEnv(host));
      processes.push(worker);
      await worker.waitForOutput(/workers ready/, 60_000);
    }
    // Both hosts have run a pass since the other's copy appeared: from here on, it is a conflict.
    await waitFor('both bots shown as conflicts', async () => (await conflicted()).join() === 'pair,twin', 30_000, 200);
    const scheduler = startCli(['scheduler'], centralEnv({ LOG_LEVEL: 'info' }));
    processes.push(scheduler);
    await scheduler.waitForOutput(/scheduler started/, 60_000);
  });

  after(async () => {
    for (const child of processes) child.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited));
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it('syncs and pushes neither copy, refuses its jobs and enqueue naming both hosts and folders, and status shows it', async () => {
    const held = (await status()).held!.find((h) => h.instance === 'twin' && h.job === 'bot-sync')!;
    for (const host of ['host-a', 'host-b'] as const) {
      assert.ok(held.message.includes(`${host} (${bots.twin![host]!.dbPath})`), held.message);
    }
    for (const job of ['bot-sync', 'turso-push']) {
      const refused = await runCli(['enqueue', job, '--bot', 'twin'], centralEnv());
      assert.equal(refused.code, 1, refused.output);
      assert.match(refused.output, /bot twin is claimed by several hosts/);
      for (const host of ['host-a', 'host-b'] as const) assert.ok(refused.output.includes(bots.twin![host]!.dbPath));
    }
    const connection = createRedis(env.config, 'producer');
    const names = ['bot-sync-host-a', 'bot-sync-host-b', 'turso-push-host-a', 'turso-push-host-b'];
    const queues = createQueues(env.config, connection, names);
    const watcher = startCli(['watch'], { ...hostEnv('host-a'), WATCH_DEBOUNCE: '100ms' });
    try {
      // The old copy written to on host-a: its watcher enqueues nothing for a conflicted bot.
      await watcher.waitForOutput(/watcher ready/, 60_000);
      editSource(bots.twin!['host-a']!.dbPath, 'UPDATE trades SET stop_loss = stop_loss + 1 WHERE id = 1');
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      for (const name of names) {
        const twinJobs = (await queues.get(name)!.getJobs()).filter((j) => j.name.endsWith(' twin'));
        assert.deepEqual(
          twinJobs.map((j) => j.name),
          [],
          `no twin job on ${name}`,
        );
      }
      watcher.child.kill('SIGTERM');
      await watcher.exited;
      assert.match(
        watcher.output(),
        /^(?=.*"msg":"watcher stopped")(?=.*"syncs":0)(?=.*"held":[1-9]).*$/m,
        'the watcher saw the write and held it',
      );
      // A job already on a host's queue (enqueued before the conflict showed) fails for good, naming both.
      const stale = await queues.get('bot-sync-host-a')!.add('bot-sync twin', { bot: 'twin' });
      const failed = await waitFor('the stale job to fail', async () => {
        const job = await queues.get('bot-sync-host-a')!.getJob(stale.id!);
        return (await job?.isFailed()) ? job : undefined;
      });
      assert.equal(failed!.attemptsMade, 1, 'failed for good, not retried');
      assert.match(failed!.failedReason, /bot twin is claimed by several hosts/);
      for (const host of ['host-a', 'host-b'] as const)
        assert.ok(failed!.failedReason.includes(bots.twin![host]!.dbPath));
      // The mover (one host) is synced meanwhile: the scheduler runs, it just leaves the conflicted bots alone.
      await waitFor('mover synced', async () => (await tradesInPostgres('mover')) === 30, 60_000, 200);
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      assert.equal(await tradesInPostgres('twin'), 0, 'no copy of twin synced');
      assert.equal(await tradesInPostgres('pair'), 0, 'no copy of pair synced');
      for (const name of names) {
        const completed = (await queues.get(name)!.getCompleted(0, -1)).map((j) => j.name);
        assert.ok(
          !completed.some((n) => / (twin|pair)$/.test(n)),
          `no twin or pair job completed on ${name}: ${completed.join()}`,
        );
      }
      for (const host of ['host-a', 'host-b'] as const) {
        const target = bots.twin![host]!;
        const pushed = existsSync(target.targetPath) ? await libsqlTables(target.targetUrl, ['trades']) : undefined;
        assert.equal(pushed?.get('trades')?.rows.length ?? 0, 0, `no push of twin from ${host}`);
      }
    } finally {
      watcher.child.kill('SIGTERM');
      await watcher.exited;
      await closeQueues(queues);
      connection.disconnect();
    }
  });

  it('`bots assign` names the owner: its copy is synced (240 trades), the other is ignored, and status says so', async () => {
    const wrong = await runCli(['bots', 'assign', 'twin', '--host', 'host-c'], centralEnv());
    assert.equal(wrong.code, 1, wrong.output);
    assert.match(wrong.output, /host host-c does not find bot twin/);
    const assigned = await runCli(['bots', 'assign', 'twin', '--host', 'host-b', '--by', 'ops-alice'], centralEnv());
    assert.equal(assigned.code, 0, assigned.output);
    assert.ok(
      assigned.output.includes(`the copy on host-a (${bots.twin!['host-a']!.dbPath}) is ignored`),
      assigned.output,
    );
    await waitFor('twin synced from host-b', async () => (await tradesInPostgres('twin')) === 240, 60_000, 200);
    const report = await status();
    assert.deepEqual(
      report.assignments.map((a) => [a.instance, a.host, a.assignedBy, a.ignored.map((c) => c.host)]),
      [['twin', 'host-b', 'ops-alice', ['host-a']]],
    );
    assert.ok(!report.held!.some((h) => h.instance === 'twin'), 'twin no longer held');
    const { rows } = await env.db.pool.query<{ assigned_by: string; host: string }>(
      `SELECT assigned_by, host FROM bot_assignments WHERE instance_id = 'twin'`,
    );
    assert.deepEqual(rows, [{ assigned_by: 'ops-alice', host: 'host-b' }]);
    // Host-a's copy stays ignored: its own queue runs nothing of twin.
    const refused = await runCli(['run', 'bot-sync', '--bot', 'twin'], { ...hostEnv('host-a'), LOG_LEVEL: 'silent' });
    assert.equal(refused.code, 1, refused.output);
    assert.match(refused.output, /bot twin is assigned to host host-b .*the copy on host host-a is ignored/);
    const cleared = await runCli(['bots', 'assign', 'twin', '--clear'], centralEnv());
    assert.equal(cleared.code, 0, cleared.output);
    await waitFor('twin a conflict again', async () => (await conflicted()).includes('twin'), 30_000, 200);
  });

  it('removing one copy ends the conflict: the remaining copy is synced', async () => {
    rmSync(path.join(roots['host-a'], 'bots', 'pair'), { recursive: true });
    await waitFor('pair synced from host-b', async () => (await tradesInPostgres('pair')) === 70, 60_000, 200);
    assert.ok(!(await conflicted()).includes('pair'));
  });

  it('a bot that moved to another host follows it, with no conflict', async () => {
    const from = path.join(roots['host-a'], 'bots', 'mover');
    const to = path.join(roots['host-b'], 'bots', 'mover');
    renameSync(from, to);
    // A new trade on the new host: only a sync there brings PostgreSQL to 31.
    editSource(
      path.join(to, 'user_data', 'tradesv3.sqlite'),
      `CREATE TEMP TABLE added AS SELECT * FROM trades WHERE id = (SELECT max(id) FROM trades);
       UPDATE added SET id = id + 1000; INSERT INTO trades SELECT * FROM added;`,
    );
    await waitFor('mover synced on host-b', async () => (await tradesInPostgres('mover')) === 31, 60_000, 200);
    const { rows } = await env.db.pool.query<{ host: string }>(`SELECT host FROM bots WHERE instance_id = 'mover'`);
    assert.equal(rows[0]!.host, 'host-b');
    assert.ok(!(await conflicted()).includes('mover'));
  });
});
