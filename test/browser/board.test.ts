import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { QueueEvents } from 'bullmq';
import express from 'express';
import { chromium, type Browser } from 'playwright-core';
import { enqueue } from '../../src/producers/enqueue.js';
import type { Queues } from '../../src/queues/queues.js';
import { listen, type TestServer } from '../helpers/http-server.js';
import { boardServer } from '../helpers/board-server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const USER = 'operator';
const PASSWORD = 'browser-secret-4c1d';

describe('Bull Board in a real browser', () => {
  // One attempt per run, so a failed job stays failed until an operator retries it.
  const board = boardServer('board_browser', { user: USER, password: PASSWORD, jobAttempts: 1 });
  let queues: Queues;
  let events: QueueEvents;
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: run scripts/install-browser.sh (apt-get install chromium)`,
    );
    ({ queues, events, server } = board.started());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    board.env.closeFirst(() => browser.close());
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  it('refuses the board without login', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // Chromium answers a Basic challenge it has no credentials for by failing the navigation.
      const challenged = page.waitForResponse(`${server.url}/admin/queues`);
      await assert.rejects(page.goto(`${server.url}/admin/queues`), /ERR_INVALID_AUTH_CREDENTIALS/);
      const response = await challenged;
      assert.equal(response.status(), 401);
      assert.match(response.headers()['www-authenticate'] ?? '', /^Basic realm="ctp-etl"/);
      const api = await context.request.get(`${server.url}/admin/queues/api/queues`);
      assert.equal(api.status(), 401);
      assert.equal(await api.text(), 'Authentication required');
    } finally {
      await context.close();
    }
  });

  it('after login shows a failed job with its error; Retry runs it to completion', async () => {
    // Fails its first attempt, so the operator's retry (attempt 2) completes.
    const job = await enqueue(queues, 'echo', { message: 'retry me from the board', failAttempts: 1 });
    await assert.rejects(job.waitUntilFinished(events, 15_000), /echo failing attempt 1/);

    const context = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1280, height: 800 },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${server.url}/admin/queues/queue/echo?status=failed`);
      assert.equal(response?.status(), 200);

      const card = page.locator('div[class*="card-"]', {
        has: page.locator('a[class*="jobLink-"]', { hasText: `#${job.id}` }),
      });
      await card.getByText('echo retry me from the board').waitFor();
      await card.getByText('echo failing attempt 1 of the first 1 on purpose').waitFor();
      await page.screenshot({ path: `${ARTIFACTS}board-failed-job.png`, fullPage: true });

      // The job's action buttons are icons; the one whose tooltip says "Retry" retries it.
      const retry = card.locator('ul[class*="jobActions-"] button').first();
      await retry.hover();
      await page.getByText('Retry', { exact: true }).waitFor();
      const finished = completionOf(events, job.id!);
      const retried = page.waitForResponse(
        (r) => r.request().method() === 'PUT' && r.url().endsWith(`/api/queues/echo/${job.id}/retry`),
        {
          timeout: 15_000,
        },
      );
      await retry.click();
      // The board asks before acting on a job.
      const dialog = page.getByRole('alertdialog').or(page.getByRole('dialog'));
      await dialog.getByText('Are you sure that you want to retry this job?').waitFor();
      await page.screenshot({ path: `${ARTIFACTS}board-retry-confirm.png` });
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      assert.equal((await retried).status(), 204, 'the board asked the server to retry the job');
      assert.deepEqual(await finished, { message: 'retry me from the board', attempt: 2 });

      await page.goto(`${server.url}/admin/queues/queue/echo?status=completed`);
      const done = page.locator('div[class*="card-"]', {
        has: page.locator('a[class*="jobLink-"]', { hasText: `#${job.id}` }),
      });
      await done.getByText('echo retry me from the board').waitFor();
      await page.screenshot({ path: `${ARTIFACTS}board-retried-job.png`, fullPage: true });
      assert.equal(await (await queues.get('echo')!.getJob(job.id!))?.getState(), 'completed');
    } finally {
      await context.close();
    }
  });

  it("refuses a job added by another origin's page while the login is cached; the board's own Add job still works", async () => {
    // user-reconcile has no worker here (an empty payload is a valid job): a job added stays waiting.
    const queue = queues.get('user-reconcile')!;
    const before = await queue.getWaitingCount();
    const addUrl = `${server.url}/admin/queues/api/queues/user-reconcile/add`;
    // Pages of another origin, as any site the operator visits could serve them.
    const foreign = express();
    foreign.get('/form', (_req, res) => {
      res
        .type('html')
        .send(
          `<form id="f" method="POST" enctype="text/plain" action="${addUrl}"><input name="a" value="b"></form>` +
            `<script>document.getElementById('f').submit()</script>`,
        );
    });
    foreign.get('/fetch', (_req, res) => {
      res
        .type('html')
        .send(
          `<script>fetch(${JSON.stringify(addUrl)}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '' })</script>`,
        );
    });
    const site = await listen(foreign);
    const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
    try {
      const page = await context.newPage();
      // The operator logs in to the board: the browser caches the credentials.
      assert.equal((await page.goto(`${server.url}/admin/queues`))?.status(), 200);

      const sitePort = new URL(site.url).port;
      // Another host (cross-site), then another port of the same host (same site, another origin).
      const attacks = [`http://localhost:${sitePort}/form`, `http://127.0.0.1:${sitePort}/fetch`];
      const answers: Record<string, number> = {};
      for (const attack of attacks) {
        const answered = page.waitForResponse((r) => r.url() === addUrl && r.request().method() === 'POST', {
          timeout: 15_000,
        });
        await page.goto(attack);
        answers[attack] = (await answered).status();
      }
      assert.deepEqual(answers, Object.fromEntries(attacks.map((attack) => [attack, 403])), 'the board refused both');
      assert.equal(await queue.getWaitingCount(), before, 'no job added by another origin');

      // The board's own "Add job" (its queue menu, a dialog, JSON sent from the same origin) still works.
      await page.goto(`${server.url}/admin/queues/queue/user-reconcile`);
      await page.locator('button[aria-haspopup="menu"]').click();
      await page.getByText('Add job', { exact: true }).click();
      await page.getByLabel('Job name').fill('reconcile from the board');
      const added = page.waitForResponse((r) => r.url() === addUrl && r.request().method() === 'POST', {
        timeout: 15_000,
      });
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      assert.equal((await added).status(), 200);
      const waiting = await queue.getWaiting();
      assert.equal(waiting.length, before + 1, "the board's own page added its job");
      assert.ok(waiting.some((job) => job.name === 'reconcile from the board'));
    } finally {
      await context.close();
      await site.close();
      await queue.drain();
    }
  });
});

/** The return value of a job's next completion (the job is failed now, so waitUntilFinished would reject at once). */
function completionOf(events: QueueEvents, jobId: string, timeoutMs = 15_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      events.off('completed', onCompleted);
      reject(new Error(`job ${jobId} did not complete within ${timeoutMs} ms of the retry`));
    }, timeoutMs);
    const onCompleted = ({ jobId: id, returnvalue }: { jobId: string; returnvalue: unknown }) => {
      if (id !== jobId) return;
      clearTimeout(timer);
      events.off('completed', onCompleted);
      resolve(returnvalue);
    };
    events.on('completed', onCompleted);
  });
}
