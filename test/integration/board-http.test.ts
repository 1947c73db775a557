import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { QueueEvents } from 'bullmq';
import { boardCredentials } from '../../src/http/http-app.js';
import { enqueue } from '../../src/producers/enqueue.js';
import type { Queues } from '../../src/queues/queues.js';
import { cliEnv, runCli } from '../helpers/cli-process.js';
import { basicAuthHeader, type TestServer } from '../helpers/http-server.js';
import { boardServer } from '../helpers/board-server.js';
import { testConfig } from '../helpers/test-config.js';

const USER = 'operator';
const PASSWORD = 'board-secret-7f3a';

interface BoardJob {
  id: string;
  name: string;
  failedReason?: string;
  stacktrace: string[];
  attempts: number;
}
interface BoardQueues {
  queues: Array<{ name: string; jobs: BoardJob[]; counts: Record<string, number> }>;
}

describe('Bull Board over HTTP', () => {
  const board = boardServer('board_http', { user: USER, password: PASSWORD, jobAttempts: 2 });
  const { env } = board;
  let queues: Queues;
  let events: QueueEvents;
  let server: TestServer;

  before(() => {
    ({ queues, events, server } = board.started());
  });

  const get = (path: string, authorization?: string) =>
    fetch(`${server.url}${path}`, { headers: authorization ? { authorization } : {}, redirect: 'manual' });

  it('answers 401 without credentials and with a wrong password, leaking nothing', async () => {
    const attempts = [
      undefined,
      basicAuthHeader(USER, 'wrong'),
      basicAuthHeader('someone', PASSWORD),
      'Bearer x',
      'Basic !!!',
    ];
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/js/main.js']) {
      for (const authorization of attempts) {
        const response = await get(path, authorization);
        assert.equal(response.status, 401, `${path} with ${authorization ?? 'no credentials'}`);
        assert.match(response.headers.get('www-authenticate') ?? '', /^Basic realm="ctp-etl"/);
        const body = await response.text();
        assert.equal(body, 'Authentication required');
        assert.ok(!body.includes(PASSWORD) && !body.includes(USER));
      }
    }
  });

  it('serves the board and its API with the right credentials', async () => {
    const page = await get('/admin/queues', basicAuthHeader(USER, PASSWORD));
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>ctp-etl<\/title>|ctp-etl/);
    const api = await get('/admin/queues/api/queues', basicAuthHeader(USER, PASSWORD));
    assert.equal(api.status, 200);
    const body = (await api.json()) as BoardQueues;
    assert.deepEqual(body.queues.map((queue) => queue.name).sort(), [...queues.keys()].sort());
  });

  it('takes the Basic scheme in any letter case (RFC 7617)', async () => {
    const credentials = basicAuthHeader(USER, PASSWORD).replace(/^Basic /, '');
    for (const scheme of ['basic', 'BASIC', 'bAsIc']) {
      const response = await get('/admin/queues/api/queues', `${scheme} ${credentials}`);
      assert.equal(response.status, 200, `scheme ${scheme}`);
    }
  });

  it('shows readable job names, and a failed job with its error and stack', async () => {
    const job = await enqueue(queues, 'echo', { message: 'doomed on the board', failAttempts: 5 });
    await assert.rejects(job.waitUntilFinished(events, 15_000), /echo failing attempt 2/);
    // A job added around the producer, named only by its type: the board works out its title.
    const bare = await queues.get('echo')!.add('echo', { message: 'bare', permanentFailure: true });
    await assert.rejects(bare.waitUntilFinished(events, 15_000), /refused "bare"/);

    const response = await get(
      '/admin/queues/api/queues?activeQueue=echo&status=failed',
      basicAuthHeader(USER, PASSWORD),
    );
    const body = (await response.json()) as BoardQueues;
    const echo = body.queues.find((queue) => queue.name === 'echo');
    const shown = echo?.jobs.find((candidate) => candidate.id === job.id);
    assert.equal(shown?.name, 'echo doomed on the board');
    assert.equal(shown?.attempts, 2);
    assert.match(shown?.failedReason ?? '', /echo failing attempt 2 of the first 5 on purpose/);
    assert.ok(shown.stacktrace.length >= 1);
    assert.match(shown.stacktrace[0] ?? '', /at .*echo\/handler\.ts/);
    assert.equal(echo?.jobs.find((candidate) => candidate.id === bare.id)?.name, 'echo bare');
  });

  it('promotes a delayed job, keeps its log and progress, and cleans it, through the board API', async () => {
    const auth = { authorization: basicAuthHeader(USER, PASSWORD) };
    const put = (path: string) =>
      fetch(`${server.url}/admin/queues/api/queues/echo/${path}`, { method: 'PUT', headers: auth });
    const delayed = await enqueue(queues, 'echo', { message: 'promoted', durationMs: 200 }, { delay: 3_600_000 });
    assert.equal(await delayed.getState(), 'delayed');
    const finished = delayed.waitUntilFinished(events, 15_000);
    assert.ok((await put(`${delayed.id}/promote`)).ok);
    assert.deepEqual(await finished, { message: 'promoted', attempt: 1 });

    const logs = (await (
      await get(`/admin/queues/api/queues/echo/${delayed.id}/logs`, auth.authorization)
    ).json()) as string[];
    assert.match(logs[0] ?? '', /echo attempt 1: promoted$/);
    const shown = (await (await get(`/admin/queues/api/queues/echo/${delayed.id}`, auth.authorization)).json()) as {
      job: { progress: unknown };
    };
    assert.equal(shown.job.progress, 100);

    // ("Clean all" spares jobs finished within its 5 s grace time; one job is cleaned at once.)
    assert.ok((await put(`${delayed.id}/clean`)).ok);
    assert.equal(await queues.get('echo')!.getJob(delayed.id!), undefined);
  });

  it('refuses a state change sent from another origin with 403, adding no job; its own origin and non-browser clients pass', async () => {
    // user-reconcile has no worker here, so a job added stays in the queue to count.
    const queue = queues.get('user-reconcile')!;
    const waiting = () => queue.getWaitingCount();
    const add = (headers: Record<string, string>, body = '') =>
      fetch(`${server.url}/admin/queues/api/queues/user-reconcile/add`, {
        method: 'POST',
        headers: { authorization: basicAuthHeader(USER, PASSWORD), 'content-type': 'text/plain', ...headers },
        body,
      });
    const port = new URL(server.url).port;
    const foreign: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'cross-site' },
      // Another port of the same host: same site, another origin.
      { origin: `http://127.0.0.1:${Number(port) + 1}`, 'sec-fetch-site': 'same-site' },
      { origin: `http://127.0.0.1:${Number(port) + 1}` },
      { origin: `http://localhost:${port}` },
      // A sandboxed frame or a data: URL.
      { origin: 'null' },
    ];
    const before = await waiting();
    for (const headers of foreign) {
      const response = await add(headers);
      assert.equal(response.status, 403, JSON.stringify(headers));
      const body = await response.text();
      assert.match(
        body,
        /^Forbidden: POST \/admin\/queues\/api\/queues\/user-reconcile\/add comes from another origin/,
      );
      assert.match(body, headers['sec-fetch-site'] ? /Sec-Fetch-Site: / : /Origin: /);
    }
    // PUT and DELETE too, without credentials: refused before the login is even asked for.
    for (const method of ['PUT', 'DELETE']) {
      const response = await fetch(`${server.url}/admin/queues/api/queues/echo/pause`, {
        method,
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(response.status, 403, method);
    }
    assert.equal(await waiting(), before, 'no job added from another origin');
    assert.equal(await queue.isPaused(), false);
    const echo = queues.get('echo')!;
    assert.equal(await echo.isPaused(), false);

    // Reads are not refused: another origin's page cannot read the answer anyway (no CORS).
    const read = await fetch(`${server.url}/admin/queues/api/queues`, {
      headers: { authorization: basicAuthHeader(USER, PASSWORD), origin: 'https://evil.example' },
    });
    assert.equal(read.status, 200);

    // The board's own page (as its UI sends it: JSON, same origin), and clients that are no browser.
    const json = { 'content-type': 'application/json' };
    const own = [
      { ...json, origin: server.url, 'sec-fetch-site': 'same-origin' },
      { ...json, origin: server.url },
      { ...json, 'sec-fetch-site': 'same-origin' },
      // Behind a proxy that rewrites Host: the browser's verdict, or the Host it sent.
      { ...json, origin: 'https://board.example', 'sec-fetch-site': 'same-origin' },
      { ...json, origin: 'https://board.example', 'x-forwarded-host': 'board.example' },
      json,
    ];
    for (const headers of own) {
      const response = await add(headers, JSON.stringify({ name: 'user-reconcile', data: {}, options: {} }));
      assert.equal(response.status, 200, JSON.stringify(headers));
    }
    assert.equal(await waiting(), before + own.length, 'a job added per same-origin request');
    await queue.drain();
  });

  it('refuses to build the board without credentials unless BOARD_AUTH=false', () => {
    assert.throws(
      () => boardCredentials(testConfig('x', { BOARD_AUTH: 'true' })),
      /needs BOARD_USER and BOARD_PASSWORD/,
    );
    assert.throws(() => boardCredentials(testConfig('x', { BOARD_AUTH: 'true', BOARD_USER: 'a' })), /BOARD_AUTH=false/);
    assert.equal(boardCredentials(testConfig('x', { BOARD_AUTH: 'false' })), undefined);
    assert.deepEqual(boardCredentials(testConfig('x', { BOARD_AUTH: 'true', BOARD_USER: 'a', BOARD_PASSWORD: 'b' })), {
      user: 'a',
      password: 'b',
    });
  });

  it('`ctp-etl board` exits without credentials, before listening', async () => {
    const { code, output } = await runCli(
      ['board', '--port', '0'],
      cliEnv(env.config, { BOARD_AUTH: 'true', BOARD_USER: '', BOARD_PASSWORD: '' }),
    );
    assert.equal(code, 1);
    assert.match(output, /The board needs BOARD_USER and BOARD_PASSWORD/);
    assert.doesNotMatch(output, /board listening/);
  });
});
