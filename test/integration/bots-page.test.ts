import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Queues } from '../../src/queues/queues.js';
import { basicAuthHeader, type TestServer } from '../helpers/http-server.js';
import { boardServer } from '../helpers/board-server.js';

const ADMIN = { user: 'operator', password: 'bots-secret-5e1b' };
const VIEWER = { user: 'watcher', password: 'bots-viewer-2d7c' };
const BOTS = 10_000;

interface BotsJson {
  total: number;
  bots: Array<{
    bot: string;
    state: string;
    lagSeconds: number;
    epoch: number;
    lastError: string | null;
    holdMessage: string | null;
  }>;
}

describe('the /bots page', () => {
  const board = boardServer('bots_page', { ...ADMIN, jobAttempts: 1, viewer: VIEWER });
  let queues: Queues;
  let server: TestServer;

  const as = (login: { user: string; password: string }) => ({
    authorization: basicAuthHeader(login.user, login.password),
  });
  const get = (path: string, login = ADMIN) => fetch(`${server.url}${path}`, { headers: as(login) });
  const json = async (path: string): Promise<BotsJson> => {
    const response = await get(path);
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return (await response.json()) as BotsJson;
  };
  const accept = (bot: string, form: Record<string, string>, login = ADMIN, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/bots/${bot}/accept-reset`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...as(login), 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  const waitingSyncs = async () =>
    (await queues.get('bot-sync')!.getJobs(['waiting', 'delayed', 'prioritized'])).length;
  const acceptances = async () =>
    (
      await board.env.runtime.pg.query<{
        instance_id: string;
        kept: string;
        accepted_by: string;
        job_id: string;
        queue: string;
      }>('SELECT instance_id, kept, accepted_by, job_id, queue FROM bot_reset_acceptances ORDER BY id')
    ).rows;

  before(async () => {
    ({ queues, server } = board.started());
    const pg = board.env.runtime.pg;
    // bot-00001 ... bot-10000: bot i synced i minutes less 30 s ago; past 600 s (twice the 5 m sync interval) it lags.
    await pg.query(
      `INSERT INTO bots (instance_id, discovered_at, epoch)
       SELECT 'bot-' || lpad(i::text, 5, '0'), now() - interval '1 day', 1 + (i % 3) FROM generate_series(1, $1) i`,
      [BOTS],
    );
    await pg.query(
      `INSERT INTO bot_sync_state (bot_id, last_success_at, last_result)
       SELECT id, now() - make_interval(secs => substr(instance_id, 5)::int * 60 - 30),
              '{"inserted": 2, "updated": 1, "deleted": 0, "fullCompare": "an hour since the last full comparison"}'::jsonb
         FROM bots`,
    );
    await pg.query(
      `UPDATE bot_sync_state SET last_error = '<script>alert(1)</script> disk full', last_error_at = now()
        WHERE bot_id = (SELECT id FROM bots WHERE instance_id = 'bot-00007')`,
    );
    await pg.query(
      `INSERT INTO bot_holds (instance_id, job, reason, message, file, file_stamp) VALUES
         ('bot-00003', 'bot-sync', 'reset', 'bot-00003: the database was replaced; accepting archives 12 trades', '/bots/bot-00003/tradesv3.sqlite', 'identity|1:2'),
         ('bot-00004', 'bot-sync', 'reset', 'bot-00004: the database was replaced', '/bots/bot-00004/tradesv3.sqlite', 'identity|1:3'),
         ('bot-00005', 'bot-sync', 'bad-file', 'bot-00005: not a database', '/bots/bot-00005/tradesv3.sqlite', 'contents|x')`,
    );
  });

  it('pages, sorts and filters 10,000 bots on the server, the same in JSON and HTML', async () => {
    const started = performance.now();
    const second = await json('/bots.json?sort=bot&dir=asc&page=2&perPage=25');
    const ms = performance.now() - started;
    assert.equal(second.total, BOTS);
    assert.deepEqual(
      second.bots.map((b) => b.bot),
      Array.from({ length: 25 }, (_, i) => `bot-${String(26 + i).padStart(5, '0')}`),
    );
    console.log(`one page of 25 of ${BOTS} bots: ${Math.round(ms)} ms`);

    const mostBehind = await json('/bots.json?sort=lag&dir=desc&perPage=3');
    assert.deepEqual(
      mostBehind.bots.map((b) => b.bot),
      ['bot-10000', 'bot-09999', 'bot-09998'],
    );
    assert.ok(mostBehind.bots.every((b) => b.state === 'lagging'));

    const held = await json('/bots.json?state=held&sort=bot');
    assert.equal(held.total, 3);
    assert.deepEqual(
      held.bots.map((b) => [b.bot, b.state]),
      [
        ['bot-00003', 'reset'],
        ['bot-00004', 'reset'],
        ['bot-00005', 'bad-file'],
      ],
    );
    assert.match(held.bots[0]!.holdMessage ?? '', /accepting archives 12 trades/);

    const ok = await json('/bots.json?state=ok&perPage=1');
    // bot-00001 ... bot-00010 synced within twice the interval; 3 of those are held.
    assert.equal(ok.total, 10 - 3);
    assert.equal((await json('/bots.json?state=lagging&perPage=1')).total, BOTS - 10);

    const text = await json('/bots.json?text=DISK%20FULL');
    assert.deepEqual(
      text.bots.map((b) => b.bot),
      ['bot-00007'],
    );

    const html = await get('/bots?state=held&sort=bot&dir=asc');
    assert.equal(html.status, 200);
    const body = await html.text();
    assert.match(body, /page 1 of 1 \(3 bots\)/);
    assert.match(body, /data-bot="bot-00003" data-state="reset"/);
    assert.doesNotMatch(body, /data-bot="bot-00001"/);
    assert.match(body, /href="\/admin\/queues\/queue\/bot-sync"/);

    const escaped = await (await get('/bots?text=bot-00007')).text();
    assert.match(escaped, /&lt;script&gt;alert\(1\)&lt;\/script&gt; disk full/);
    assert.doesNotMatch(escaped, /<script>alert/);
  });

  it('answers a bad query parameter with 400 naming it', async () => {
    for (const [path, named] of [
      ['/bots.json?state=sleeping', /state="sleeping" is not one of ok, lagging/],
      ['/bots.json?sort=password', /sort="password" is not one of/],
      ['/bots?perPage=100000', /perPage="100000" is not a whole number from 1 to 500/],
      ['/bots.json?page=0', /page="0"/],
      ['/bots.json?state=ok&state=held', /state is given more than once/],
    ] as const) {
      const response = await get(path);
      assert.equal(response.status, 400, path);
      assert.match(await response.text(), named);
    }
  });

  it("refuses an acceptance whose confirmation is not the bot's name, or of a bot not held for a reset: 400/404/409, nothing enqueued or recorded", async () => {
    const before = await waitingSyncs();
    const wrong = await accept('bot-00003', { kept: 'archive', confirmation: 'bot-00004' });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /the confirmation "bot-00004" is not the bot's name "bot-00003"/);
    const empty = await accept('bot-00003', { kept: 'delete' });
    assert.equal(empty.status, 400);
    const badChoice = await accept('bot-00003', { kept: 'truncate', confirmation: 'bot-00003' });
    assert.equal(badChoice.status, 400);
    assert.match(await badChoice.text(), /kept must be "archive" or "delete"/);
    const notHeld = await accept('bot-00001', { kept: 'archive', confirmation: 'bot-00001' });
    assert.equal(notHeld.status, 404);
    const badFile = await accept('bot-00005', { kept: 'archive', confirmation: 'bot-00005' });
    assert.equal(badFile.status, 409);
    assert.match(await badFile.text(), /held for bad-file, not a reset/);
    assert.equal(await waitingSyncs(), before);
    assert.deepEqual(await acceptances(), []);
  });

  it('shows the viewer the page without actions and refuses its acceptance with 403; the admin sees the actions', async () => {
    const viewerPage = await (await get('/bots?state=held', VIEWER)).text();
    assert.match(viewerPage, /data-bot="bot-00003"/);
    assert.doesNotMatch(viewerPage, /accept-reset|accept, archive/);
    const adminPage = await (await get('/bots?state=held')).text();
    assert.match(adminPage, /action="\/bots\/bot-00003\/accept-reset"/);
    assert.match(adminPage, /accept, archive/);
    assert.match(adminPage, /accept, delete/);

    const before = await waitingSyncs();
    const refused = await accept('bot-00003', { kept: 'archive', confirmation: 'bot-00003' }, VIEWER, {
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /the viewer login only reads the board/);
    const crossSite = await accept('bot-00003', { kept: 'archive', confirmation: 'bot-00003' }, ADMIN, {
      'sec-fetch-site': 'cross-site',
    });
    assert.equal(crossSite.status, 403);
    const anonymous = await fetch(`${server.url}/bots.json`);
    assert.equal(anonymous.status, 401);
    assert.equal(await waitingSyncs(), before);
    assert.deepEqual(await acceptances(), []);
  });

  it("enqueues the admin's acceptance as a bot-sync job with acceptReset and records who, which choice and the job", async () => {
    const response = await accept('bot-00004', { kept: 'delete', confirmation: 'bot-00004' }, ADMIN, {
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(response.status, 303);
    const location = response.headers.get('location') ?? '';
    assert.match(
      decodeURIComponent(location.replaceAll('+', ' ')),
      /bot bot-00004: reset accepted \(delete\), job \S+ on bot-sync/,
    );
    const [recorded, ...more] = await acceptances();
    assert.deepEqual(more, []);
    assert.equal(recorded?.instance_id, 'bot-00004');
    assert.equal(recorded?.kept, 'delete');
    assert.equal(recorded?.accepted_by, ADMIN.user);
    assert.equal(recorded?.queue, 'bot-sync');
    const job = await queues.get('bot-sync')!.getJob(recorded.job_id);
    assert.deepEqual(job?.data, { bot: 'bot-00004', fullCompare: false, acceptReset: 'delete' });
    await job?.remove();
  });
});
