import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { payloadsFromCli } from '../../src/cli/cli-payloads.js';
import { createRedis } from '../../src/connections/redis.js';
import { closeQueues, createQueues } from '../../src/queues/queues.js';
import { compareBots } from '../helpers/bot-equality.js';
import { cliEnv, runCli, startCli, type CliProcess } from '../helpers/cli-process.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { createTestBot, libsqlTables, sqliteTables, type TestBot } from '../helpers/turso-bots.js';
import { waitFor } from '../helpers/wait-for.js';

/** Two "hosts": folders of their own, each served by a worker process with its WORKER_HOST. */
const HOSTS = { 'host-a': ['ha-1', 'ha-2'], 'host-b': ['hb-1', 'hb-2'] } as const;
type Host = keyof typeof HOSTS;
const allBots = Object.values(HOSTS).flat();

describe('workers on several hosts (BOT_DISCOVERY=hosts)', { timeout: 5 * 60_000 }, () => {
  const tracker = failureTracker();
  const dir = tempDir('hosts');
  const roots = { 'host-a': path.join(dir.path, 'host-a'), 'host-b': path.join(dir.path, 'host-b') };
  const testBots: TestBot[] = [];
  let env: TestEnvironment;
  const processes: CliProcess[] = [];
  const common = { BOT_DISCOVERY: 'hosts', SYNC_INTERVAL: '2s', TURSO_PUSH_INTERVAL: '2s', DISCOVERY_INTERVAL: '1s' };
  const hostEnv = (host: Host) =>
    cliEnv(env.config, {
      ...common,
      WORKER_HOST: host,
      BOT_INSTANCES_DIR: path.join(roots[host], 'bots'),
      TURSO_FILE_DIR: path.join(roots[host], 'targets'),
    });
  // The scheduler and the operator's CLI see no bot folder at all: they work from PostgreSQL.
  const centralEnv = (extra: Record<string, string> = {}) =>
    cliEnv(env.config, { ...common, BOT_INSTANCES_DIR: path.join(dir.path, 'none'), LOG_LEVEL: 'silent', ...extra });

  before(async () => {
    env = await createTestEnvironment('worker_hosts', { BOT_DISCOVERY: 'hosts' });
    let seed = 1;
    for (const host of Object.keys(HOSTS) as Host[]) {
      for (const bot of HOSTS[host]) testBots.push(await createTestBot(roots[host], bot, { trades: 60, seed: seed++ }));
    }
    for (const host of Object.keys(HOSTS) as Host[]) {
      const worker = startCli(['worker', '--queues', 'bot-sync,turso-push'], hostEnv(host));
      processes.push(worker);
      await worker.waitForOutput(/workers ready/, 60_000);
    }
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

  it('records which host holds each bot', async () => {
    const { rows } = await env.db.pool.query<{ instance_id: string; host: string; turso_push: boolean }>(
      'SELECT instance_id, host, turso_push FROM bots ORDER BY instance_id',
    );
    assert.deepEqual(
      rows.map((r) => [r.instance_id, r.host, r.turso_push]),
      [
        ['ha-1', 'host-a', true],
        ['ha-2', 'host-a', true],
        ['hb-1', 'host-b', true],
        ['hb-2', 'host-b', true],
      ],
    );
  });

  it("turso-push --all --dry-run --full-compare gives every host's bot the flags (a dry run never writes)", async () => {
    const payloads = await payloadsFromCli(
      'turso-push',
      { all: true, dryRun: true, fullCompare: true },
      { config: env.config, pg: env.runtime.pg },
    );
    assert.deepEqual(
      payloads,
      allBots.map((bot) => ({ bot, dryRun: true, fullCompare: true })),
    );
  });

  it('syncs and pushes every bot on its own host, none failing with "not found"', async () => {
    await waitFor(
      'every bot synced and pushed',
      async () => {
        const equality = await compareBots(env.db.pool, path.join(roots['host-a'], 'bots'), HOSTS['host-a']);
        const equalityB = await compareBots(env.db.pool, path.join(roots['host-b'], 'bots'), HOSTS['host-b']);
        if (equality.lost + equality.duplicated + equalityB.lost + equalityB.duplicated > 0) return false;
        for (const bot of testBots) {
          const source = sqliteTables(bot.dbPath).get('trades')!;
          const target = await libsqlTables(bot.targetUrl, ['trades']).catch(() => undefined);
          if (target?.get('trades')?.rows.length !== source.rows.length) return false;
        }
        return true;
      },
      120_000,
      500,
    );
    const connection = createRedis(env.config, 'producer');
    const names = [
      'bot-sync',
      'turso-push',
      'bot-sync-host-a',
      'bot-sync-host-b',
      'turso-push-host-a',
      'turso-push-host-b',
    ];
    const queues = createQueues(env.config, connection, names);
    try {
      for (const [name, queue] of queues) {
        const failed = await queue.getFailed(0, -1);
        assert.deepEqual(
          failed.map((j) => `${j.name}: ${j.failedReason}`),
          [],
          `no failed job on ${name}`,
        );
      }
      const completed = async (name: string) => (await queues.get(name)!.getCompleted(0, -1)).map((j) => j.name);
      for (const host of Object.keys(HOSTS) as Host[]) {
        const synced = new Set(await completed(`bot-sync-${host}`));
        for (const bot of HOSTS[host]) assert.ok(synced.has(`bot-sync ${bot}`), `${bot} synced on ${host}`);
        for (const other of allBots.filter((b) => !(HOSTS[host] as readonly string[]).includes(b))) {
          assert.ok(!synced.has(`bot-sync ${other}`), `${other} never on ${host}`);
        }
      }
      const plain = await queues.get('bot-sync')!.getJobCounts();
      assert.equal(
        Object.values(plain).reduce((a, b) => a + b, 0),
        0,
        'nothing on the single-host queue',
      );
    } finally {
      await closeQueues(queues);
      connection.disconnect();
    }
  });

  it('enqueue --bot and --all reach the right host from a machine that holds no bot', async () => {
    const one = await runCli(['enqueue', 'bot-sync', '--bot', 'hb-2', '--wait'], centralEnv());
    assert.equal(one.code, 0, one.output);
    assert.match(one.output, /enqueued bot-sync job \S+ \(bot-sync hb-2\) on bot-sync-host-b/);
    assert.match(one.output, /\(bot-sync hb-2\) completed/);
    const all = await runCli(['enqueue', 'turso-push', '--all', '--wait'], centralEnv());
    assert.equal(all.code, 0, all.output);
    for (const bot of allBots) assert.match(all.output, new RegExp(`\\(turso-push ${bot}\\) completed`));
    assert.match(all.output, /on turso-push-host-a/);
    assert.match(all.output, /on turso-push-host-b/);
  });

  it('refuses a bot no host holds, naming it', async () => {
    const { code, output } = await runCli(['enqueue', 'bot-sync', '--bot', 'nowhere-1'], centralEnv());
    assert.equal(code, 1);
    assert.match(output, /bot nowhere-1 is held by no host/);
  });

  it('status and the board see each host queue', async () => {
    const { code, output } = await runCli(['status', '--json'], centralEnv());
    assert.equal(code, 0, output);
    const names = (JSON.parse(output) as { queues: Array<{ queue: string }> }).queues.map((q) => q.queue);
    for (const name of ['bot-sync-host-a', 'bot-sync-host-b', 'turso-push-host-a', 'turso-push-host-b']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
  });
});
