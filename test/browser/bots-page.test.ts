import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Job, QueueEvents } from 'bullmq';
import { chromium, type Browser } from 'playwright-core';
import { enqueue } from '../../src/producers/enqueue.js';
import type { Queues } from '../../src/queues/queues.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import type { TestServer } from '../helpers/http-server.js';
import { boardServer } from '../helpers/board-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const ADMIN = { username: 'operator', password: 'bots-browser-8a2e' };
const VIEWER = { username: 'watcher', password: 'bots-viewer-6f0d' };

describe('the /bots page in a real browser', () => {
  const dir = tempDir('bots-page-browser');
  const board = boardServer('bots_page_browser', {
    user: ADMIN.username,
    password: ADMIN.password,
    viewer: { user: VIEWER.username, password: VIEWER.password },
    jobAttempts: 1,
    worker: 'bot-sync',
    settings: { BOT_INSTANCES_DIR: dir.path },
    dir,
  });
  let queues: Queues;
  let events: QueueEvents;
  let server: TestServer;
  let browser: Browser;
  let refusedJob: Job;

  const sync = async (bot: string): Promise<Job> => {
    const job = await enqueue(queues, 'bot-sync', { bot });
    await job.waitUntilFinished(events, 30_000).catch(() => undefined);
    return job;
  };

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: run scripts/install-browser.sh (apt-get install chromium)`,
    );
    ({ queues, events, server } = board.started());
    // steady-bot syncs; reset-bot synced 40 trades, then its file was replaced by a fresh one.
    createFreqtradeDb(botDbPath(dir.path, 'steady-bot'), { trades: 5, ordersPerTrade: 1, seed: 3 });
    const file = botDbPath(dir.path, 'reset-bot');
    createFreqtradeDb(file, { trades: 40, ordersPerTrade: 1, seed: 5 });
    for (const bot of ['steady-bot', 'reset-bot']) assert.equal(await (await sync(bot)).getState(), 'completed');
    createFreqtradeDb(`${file}.new`, { trades: 4, ordersPerTrade: 1, seed: 9 });
    renameSync(`${file}.new`, file);
    refusedJob = await sync('reset-bot');
    assert.equal(await refusedJob.getState(), 'failed');
    assert.match((await queues.get('bot-sync')!.getJob(refusedJob.id!))?.failedReason ?? '', /looks replaced/);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    board.env.closeFirst(() => browser.close());
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  it('shows the viewer the held bot without actions, and refuses its retry and its acceptance', async () => {
    const context = await browser.newContext({ httpCredentials: VIEWER, viewport: { width: 1280, height: 720 } });
    try {
      const page = await context.newPage();
      assert.equal((await page.goto(`${server.url}/bots?state=held`))?.status(), 200);
      const row = page.locator('tr[data-bot="reset-bot"]');
      await row.waitFor();
      assert.equal(await row.getAttribute('data-state'), 'reset');
      assert.equal(await page.locator('form.accept').count(), 0, 'no actions for the viewer');
      assert.equal(await page.getByRole('button', { name: 'accept, archive' }).count(), 0);
      await page.screenshot({ path: `${ARTIFACTS}bots-page-viewer.png`, fullPage: true });

      // From the page itself (same origin, the login cached): a retry and an acceptance, both refused.
      const statuses = await page.evaluate(
        async ({ jobId }) => {
          const retry = await fetch(`/admin/queues/api/queues/bot-sync/${jobId}/retry`, { method: 'PUT' });
          const acceptance = await fetch('/bots/reset-bot/accept-reset', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'kept=archive&confirmation=reset-bot',
          });
          return [retry.status, acceptance.status];
        },
        { jobId: refusedJob.id! },
      );
      assert.deepEqual(statuses, [403, 403]);
      assert.equal(await refusedJob.getState(), 'failed', 'not retried');
      const { rows } = await board.env.runtime.pg.query('SELECT 1 FROM bot_reset_acceptances');
      assert.equal(rows.length, 0, 'nothing accepted');
    } finally {
      await context.close();
    }
  });

  it('lets the admin filter to held bots, accept the reset with the typed name, and see the bot synced', async () => {
    const context = await browser.newContext({ httpCredentials: ADMIN, viewport: { width: 1280, height: 560 } });
    try {
      const page = await context.newPage();
      assert.equal((await page.goto(`${server.url}/bots`))?.status(), 200);
      await page.locator('tr[data-bot="steady-bot"]').waitFor();
      await page.getByLabel('state').selectOption('held');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/state=held/);
      const row = page.locator('tr[data-bot="reset-bot"]');
      await row.waitFor();
      assert.equal(await page.locator('tr[data-bot="steady-bot"]').count(), 0, 'filtered to held bots');
      await page.screenshot({ path: `${ARTIFACTS}bots-page-held.png` });
      // The refusal's message is the dry-run plan: what accepting would archive or delete.
      await row.getByText('why and the plan').click();
      await row
        .getByText(/36 of 40 trades \(90\.0%\) would be deleted/)
        .first()
        .waitFor();
      await page.screenshot({ path: `${ARTIFACTS}bots-page-plan.png` });

      // A wrong name is refused by the server, nothing enqueued.
      await row.getByLabel(/to confirm/).fill('steady-bot');
      const refused = page.waitForResponse((r) => r.request().method() === 'POST');
      await row.getByRole('button', { name: 'accept, archive' }).click();
      assert.equal((await refused).status(), 400);
      await page.getByText(/is not the bot's name "reset-bot"/).waitFor();
      await page.goBack();

      await row.getByLabel(/to confirm/).fill('reset-bot');
      await row.getByRole('button', { name: 'accept, archive' }).click();
      await page
        .getByRole('status')
        .getByText(/bot reset-bot: reset accepted \(archive\), job \S+ on bot-sync/)
        .waitFor();
      const { rows } = await board.env.runtime.pg.query<{ job_id: string; kept: string; accepted_by: string }>(
        'SELECT job_id, kept, accepted_by FROM bot_reset_acceptances',
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.kept, 'archive');
      assert.equal(rows[0]!.accepted_by, ADMIN.username);
      const job = await queues.get('bot-sync')!.getJob(rows[0]!.job_id);
      assert.ok(job, 'the acceptance is a queued bot-sync job');
      const result = (await job.waitUntilFinished(events, 30_000)) as { reset?: { kept: string; trades: number } };
      assert.deepEqual({ kept: result.reset?.kept, trades: result.reset?.trades }, { kept: 'archive', trades: 40 });

      await page.reload();
      const synced = page.locator('tr[data-bot="reset-bot"]');
      await synced.waitFor();
      assert.equal(await synced.getAttribute('data-state'), 'ok');
      await synced.getByText(/rows written/).waitFor();
      assert.equal(await synced.locator('td').nth(8).textContent(), '2', 'epoch 2: epoch 1 archived');
      await page.screenshot({ path: `${ARTIFACTS}bots-page-accepted.png` });
      const archived = await board.env.runtime.pg.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM trades_archive a JOIN bots b ON b.id = a.bot_id WHERE b.instance_id = 'reset-bot'`,
      );
      assert.equal(archived.rows[0]!.n, 40, 'the old trades archived, not lost');
    } finally {
      await context.close();
    }
  });
});
