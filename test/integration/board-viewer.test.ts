import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { QueueEvents } from 'bullmq';
import { boardCredentials } from '../../src/http/http-app.js';
import type { Queues } from '../../src/queues/queues.js';
import { basicAuthHeader, type TestServer } from '../helpers/http-server.js';
import { boardServer } from '../helpers/board-server.js';
import { testConfig } from '../helpers/test-config.js';

const ADMIN = { user: 'operator', password: 'board-secret-7f3a' };
const VIEWER = { user: 'watcher', password: 'viewer-secret-91c2' };

interface BoardQueues {
  queues: Array<{ name: string; readOnlyMode: boolean; isPaused: boolean }>;
}

describe('the board viewer login', () => {
  const board = boardServer('board_viewer', { ...ADMIN, jobAttempts: 1, viewer: VIEWER });
  let queues: Queues;
  let events: QueueEvents;
  let server: TestServer;

  before(() => {
    ({ queues, events, server } = board.started());
  });

  const as = (login: { user: string; password: string }) => ({
    authorization: basicAuthHeader(login.user, login.password),
  });
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    fetch(`${server.url}/admin/queues${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body }),
    });
  const shownQueues = async (login: { user: string; password: string }) => {
    const response = await send('GET', '/api/queues', as(login));
    assert.equal(response.status, 200);
    return ((await response.json()) as BoardQueues).queues;
  };

  it('shows the viewer the board and its jobs, every queue in read-only mode', async () => {
    const page = await send('GET', '', as(VIEWER));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /ctp-etl/);
    const shown = await shownQueues(VIEWER);
    assert.deepEqual(shown.map((queue) => queue.name).sort(), [...queues.keys()].sort());
    assert.ok(
      shown.every((queue) => queue.readOnlyMode),
      'every queue read-only for the viewer',
    );
    assert.ok(
      (await shownQueues(ADMIN)).every((queue) => !queue.readOnlyMode),
      'the admin keeps the actions',
    );
  });

  it('refuses every state-changing request of the viewer with 403, whatever route it names, and nothing changes in Redis', async () => {
    const failed = await queues.get('echo')!.add('echo', { message: 'kept failed', permanentFailure: true });
    await assert.rejects(failed.waitUntilFinished(events, 15_000), /refused "kept failed"/);
    // user-reconcile has no worker here, so a job added would stay in the queue to count.
    const reconcile = queues.get('user-reconcile')!;
    const waitingBefore = await reconcile.getWaitingCount();
    const add = JSON.stringify({ name: 'user-reconcile', data: {}, options: {} });
    const attempts: Array<[string, string, string?]> = [
      ['POST', '/api/queues/user-reconcile/add', add],
      ['PUT', `/api/queues/echo/${failed.id}/retry`],
      ['PUT', '/api/queues/echo/retry/failed'],
      ['PUT', '/api/queues/echo/pause'],
      ['PUT', '/api/queues/user-reconcile/pause'],
      ['PUT', `/api/queues/echo/${failed.id}/clean`],
      ['PUT', '/api/queues/echo/obliterate'],
      ['DELETE', `/api/queues/echo/${failed.id}`],
      ['PATCH', `/api/queues/echo/${failed.id}/update-data`, JSON.stringify({ data: { message: 'changed' } })],
      // Routes Bull Board does not have (yet): refused all the same.
      ['POST', '/api/queues/echo/some-future-action'],
      ['POST', '/'],
      ['OPTIONS', '/api/queues'],
    ];
    for (const [method, path, body] of attempts) {
      const response = await send(method, path, { ...as(VIEWER), 'sec-fetch-site': 'same-origin' }, body);
      assert.equal(response.status, 403, `${method} ${path}`);
      assert.match(await response.text(), /^Forbidden: \w+ \/admin\/queues\S* the viewer login only reads the board$/);
    }
    assert.equal(await failed.getState(), 'failed', 'the failed job was neither retried nor cleaned');
    assert.deepEqual((await queues.get('echo')!.getJob(failed.id!))?.data, {
      message: 'kept failed',
      permanentFailure: true,
    });
    assert.equal(await reconcile.getWaitingCount(), waitingBefore, 'no job added');
    assert.equal(await queues.get('echo')!.isPaused(), false);
    assert.equal(await reconcile.isPaused(), false);
  });

  it('lets the admin change things as before', async () => {
    const reconcile = queues.get('user-reconcile')!;
    const waitingBefore = await reconcile.getWaitingCount();
    const added = await send(
      'POST',
      '/api/queues/user-reconcile/add',
      as(ADMIN),
      JSON.stringify({ name: 'user-reconcile', data: {}, options: {} }),
    );
    assert.equal(added.status, 200);
    assert.equal(await reconcile.getWaitingCount(), waitingBefore + 1);
    assert.equal((await send('PUT', '/api/queues/user-reconcile/pause', as(ADMIN))).status, 200);
    assert.equal(await reconcile.isPaused(), true);
    assert.equal((await send('PUT', '/api/queues/user-reconcile/resume', as(ADMIN))).status, 200);
    assert.equal(await reconcile.isPaused(), false);
    await reconcile.drain();
  });

  it("answers 401 to a wrong password of either login, and to one login's user with the other's password", async () => {
    const wrong = [
      { user: VIEWER.user, password: 'wrong' },
      { user: ADMIN.user, password: 'wrong' },
      { user: VIEWER.user, password: ADMIN.password },
      { user: ADMIN.user, password: VIEWER.password },
    ];
    for (const login of wrong) {
      for (const [method, path] of [
        ['GET', '/api/queues'],
        ['PUT', '/api/queues/echo/pause'],
      ] as const) {
        const response = await send(method, path, as(login));
        assert.equal(response.status, 401, `${method} ${path} as ${login.user}:${login.password}`);
      }
    }
    assert.equal(await queues.get('echo')!.isPaused(), false);
  });

  it('refuses a half-set viewer login, one that shares the admin user, or one without BOARD_AUTH', () => {
    const admin = { BOARD_AUTH: 'true', BOARD_USER: 'a', BOARD_PASSWORD: 'b' };
    assert.throws(
      () => boardCredentials(testConfig('x', { ...admin, BOARD_VIEWER_USER: 'v' })),
      /needs both BOARD_VIEWER_USER and BOARD_VIEWER_PASSWORD \(BOARD_VIEWER_PASSWORD is unset\)/,
    );
    assert.throws(
      () => boardCredentials(testConfig('x', { ...admin, BOARD_VIEWER_PASSWORD: 'w' })),
      /\(BOARD_VIEWER_USER is unset\)/,
    );
    assert.throws(
      () => boardCredentials(testConfig('x', { ...admin, BOARD_VIEWER_USER: 'a', BOARD_VIEWER_PASSWORD: 'w' })),
      /BOARD_VIEWER_USER "a" is BOARD_USER too/,
    );
    assert.throws(
      () =>
        boardCredentials(testConfig('x', { BOARD_AUTH: 'false', BOARD_VIEWER_USER: 'v', BOARD_VIEWER_PASSWORD: 'w' })),
      /BOARD_AUTH=false/,
    );
    assert.deepEqual(
      boardCredentials(testConfig('x', { ...admin, BOARD_VIEWER_USER: 'v', BOARD_VIEWER_PASSWORD: 'w' })),
      {
        user: 'a',
        password: 'b',
        viewer: { user: 'v', password: 'w' },
      },
    );
  });
});
