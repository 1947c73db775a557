import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { QueueEvents } from 'bullmq';
import { Decimal128, ObjectId } from 'mongodb';
import { enqueueUserUpsert } from '../../src/index.js';
import { mapUser } from '../../src/users/map-user.js';
import { upsertUsers } from '../../src/users/upsert-users.js';
import type { Queues } from '../../src/queues/queues.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { testConfig } from '../helpers/test-config.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { waitFor } from '../helpers/wait-for.js';

describe('dual-write: user-upsert jobs', () => {
  const env = suiteEnvironment('dual_write', { JOB_ATTEMPTS: '12', JOB_BACKOFF: '100ms' });
  let proxy: TcpProxy;
  let workerRuntime: Runtime;
  let queues: Queues;
  let events: QueueEvents;

  const user = (hex: string, fields: Record<string, unknown>) => ({
    _id: new ObjectId(hex),
    createdAt: new Date('2024-01-01T00:00:00Z'),
    ...fields,
  });
  const row = async (hex: string) =>
    (
      await env.db.pool.query<Record<string, string>>(
        'SELECT email, name, paper_balance::text, updated_at::text FROM users WHERE mongo_id = $1',
        [hex],
      )
    ).rows[0];

  before(async () => {
    const url = new URL(env.config.DATABASE_URL);
    proxy = await TcpProxy.reserve({ host: url.hostname, port: Number(url.port || 5432) });
    env.closeFirst(() => proxy.stop());
    url.port = String(proxy.port);
    // The worker reaches PostgreSQL only through the proxy, which starts stopped.
    workerRuntime = new Runtime(
      testConfig(env.name, { DATABASE_URL: url.toString(), JOB_ATTEMPTS: '12', JOB_BACKOFF: '100ms' }),
    );
    env.closeFirst(() => workerRuntime.close());
    ({ queues, events } = await env.startQueueHarness('user-upsert', { worker: workerRuntime, concurrency: 1 }));
  });

  it('retries while PostgreSQL is unreachable, then lands the write', async () => {
    const hex = '65c000000000000000000001';
    const job = await enqueueUserUpsert(
      user(hex, {
        email: 'dual@example.com',
        name: 'Dual',
        paperBalance: Decimal128.fromString('12.345678901234567890'),
        updatedAt: new Date('2024-02-01T00:00:00Z'),
      }),
      { queues },
    );
    assert.equal(job.id, `user-upsert-${hex}-${Date.parse('2024-02-01T00:00:00Z')}`);
    await waitFor(
      'two failed attempts',
      async () => ((await queues.get('user-upsert')!.getJob(job.id!))?.attemptsMade ?? 0) >= 2,
      30_000,
    );
    assert.equal(await row(hex), undefined);
    await proxy.start();
    const result = await job.waitUntilFinished(events, 30_000);
    assert.deepEqual(result, { mongoId: hex, outcome: 'inserted' });
    assert.deepEqual(await row(hex), {
      email: 'dual@example.com',
      name: 'Dual',
      paper_balance: '12.345678901234567890',
      updated_at: '2024-02-01 00:00:00+00',
    });
    const done = await queues.get('user-upsert')!.getJob(job.id!);
    assert.ok((done?.attemptsMade ?? 0) >= 3, `attempts made: ${done?.attemptsMade}`);
    assert.match(done?.failedReason ?? '', /user-upsert of user _id 65c000000000000000000001 failed; will retry/);
  });

  it('enqueues one job for the same user and updatedAt, and never rolls a user back to an older write', async () => {
    const hex = '65c000000000000000000002';
    const newer = user(hex, { email: 'order@example.com', name: 'Newer', updatedAt: new Date('2024-03-02T00:00:00Z') });
    const first = await enqueueUserUpsert(newer, { queues });
    const again = await enqueueUserUpsert(newer, { queues });
    assert.equal(again.id, first.id);
    assert.deepEqual(await first.waitUntilFinished(events, 15_000), { mongoId: hex, outcome: 'inserted' });
    const older = await enqueueUserUpsert(
      user(hex, { email: 'order@example.com', name: 'Older', updatedAt: new Date('2024-03-01T00:00:00Z') }),
      { queues },
    );
    assert.deepEqual(await older.waitUntilFinished(events, 15_000), { mongoId: hex, outcome: 'unchanged' });
    assert.equal((await row(hex))?.name, 'Newer');
  });

  it('rejects a user whose email another user holds, without retrying', async () => {
    const job = await enqueueUserUpsert(
      user('65c000000000000000000003', { email: 'DUAL@example.com', updatedAt: new Date('2024-04-01T00:00:00Z') }),
      { queues },
    );
    await assert.rejects(
      job.waitUntilFinished(events, 15_000),
      /rejected: email DUAL@example.com is already used by user _id 65c000000000000000000001/,
    );
    assert.equal((await queues.get('user-upsert')!.getJob(job.id!))?.attemptsMade, 1);
    const rejects = await env.db.pool.query<{ position: string }>(
      `SELECT position FROM rejects WHERE source = 'user-upsert'`,
    );
    assert.deepEqual(rejects.rows, [{ position: '_id 65c000000000000000000003' }]);
  });

  it('takes a user document from the command line: ctp-etl enqueue user-upsert --json --wait', async () => {
    const doc =
      '{"_id":{"$oid":"65c000000000000000000004"},"email":"cli@example.com","paperBalance":{"$numberLong":"9007199254740993"},"updatedAt":{"$date":"2024-05-01T00:00:00Z"}}';
    const { code, output } = await runCli(['enqueue', 'user-upsert', '--json', doc, '--wait'], cliEnv(env.config));
    assert.equal(code, 0, output);
    assert.match(output, /completed: \{"mongoId":"65c000000000000000000004","outcome":"inserted"\}/);
    assert.equal((await row('65c000000000000000000004'))?.paper_balance, '9007199254740993');
  });
  it('moves an address: B signs up with a@ before A’s move off it lands, and B lands with that move', async () => {
    const [a, b] = ['65c000000000000000000011', '65c000000000000000000012'];
    const write = async (hex: string, email: string, at: string) =>
      enqueueUserUpsert(user(hex, { email, updatedAt: new Date(at) }), { queues });
    await (await write(a, 'a@example.com', '2024-06-01T00:00:00Z')).waitUntilFinished(events, 15_000);
    await assert.rejects(
      (await write(b, 'a@example.com', '2024-06-02T00:00:00Z')).waitUntilFinished(events, 15_000),
      new RegExp(`email a@example.com is already used by user _id ${a}, so user _id ${b} cannot have it`),
    );
    const move = await write(a, 'a.new@example.com', '2024-06-02T00:00:01Z');
    assert.deepEqual(await move.waitUntilFinished(events, 15_000), { mongoId: a, outcome: 'updated' });
    assert.deepEqual([(await row(a))?.email, (await row(b))?.email], ['a.new@example.com', 'a@example.com']);
  });

  it('swaps the addresses of two users, one job each', async () => {
    const [c, d] = ['65c000000000000000000013', '65c000000000000000000014'];
    const write = async (hex: string, email: string, at: string) =>
      enqueueUserUpsert(user(hex, { email, updatedAt: new Date(at) }), { queues });
    await (await write(c, 'c@example.com', '2024-07-01T00:00:00Z')).waitUntilFinished(events, 15_000);
    await (await write(d, 'd@example.com', '2024-07-01T00:00:00Z')).waitUntilFinished(events, 15_000);
    // C's job comes while D still holds d@: C waits for it, and D's move off d@ brings C along.
    await assert.rejects(
      (await write(c, 'd@example.com', '2024-07-02T00:00:00Z')).waitUntilFinished(events, 15_000),
      new RegExp(`email d@example.com is already used by user _id ${d}, so user _id ${c} cannot have it`),
    );
    const swap = await write(d, 'c@example.com', '2024-07-02T00:00:00Z');
    assert.deepEqual(await swap.waitUntilFinished(events, 15_000), { mongoId: d, outcome: 'updated' });
    assert.deepEqual([(await row(c))?.email, (await row(d))?.email], ['d@example.com', 'c@example.com']);
  });
  it('swaps two users in two transactions at once: the second waits for the first and brings it along', async () => {
    const [e, f] = ['65c000000000000000000015', '65c000000000000000000016'];
    const write = async (hex: string, email: string, at: string) =>
      enqueueUserUpsert(user(hex, { email, updatedAt: new Date(at) }), { queues });
    await (await write(e, 'e@example.com', '2024-08-01T00:00:00Z')).waitUntilFinished(events, 15_000);
    await (await write(f, 'f@example.com', '2024-08-01T00:00:00Z')).waitUntilFinished(events, 15_000);
    const item = (hex: string, email: string) => {
      const row = mapUser(user(hex, { email, updatedAt: new Date('2024-08-02T00:00:00Z') }));
      return [{ row, position: `_id ${hex}`, raw: () => hex }];
    };
    const [first, second] = [await env.db.pool.connect(), await env.db.pool.connect()];
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      // E's write is decided first (F still holds f@: E is parked), and not committed yet.
      const parked = await upsertUsers(first, item(e, 'f@example.com'));
      assert.equal(parked.rejects.length, 1);
      const secondPid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      let settled = false;
      const swapping = upsertUsers(second, item(f, 'e@example.com')).finally(() => (settled = true));
      await waitFor('the second write to wait for a lock or to be done', async () => {
        const { rows } = await env.db.pool.query<{ wait: string | null }>(
          'SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1',
          [secondPid],
        );
        return settled || rows[0]?.wait === 'Lock';
      });
      await first.query('COMMIT');
      const swapped = await swapping;
      await second.query('COMMIT');
      assert.deepEqual({ updated: swapped.updated, rejects: swapped.rejects }, { updated: 1, rejects: [] });
    } finally {
      first.release();
      second.release();
    }
    assert.deepEqual([(await row(e))?.email, (await row(f))?.email], ['f@example.com', 'e@example.com']);
  });
});
