import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BotSyncResult } from '../../src/bot-sync/sync-result.js';
import { botSyncContract } from '../../src/jobs/bot-sync/contract.js';
import { tursoPushContract } from '../../src/jobs/turso-push/contract.js';
import type { PushResult } from '../../src/turso/push-bot.js';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';
import { createTestBot } from '../helpers/turso-bots.js';

/** bot-sync and turso-push spell the CLI's flags alike (`bot`, `fullCompare`); jobs queued before keep running. */
describe('payloads queued with the keys bot-sync and turso-push had before', () => {
  const tracker = failureTracker();
  let root: string;
  let env: TestEnvironment;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'renamed-keys-'));
    env = await createTestEnvironment('renamed_keys', {
      BOT_INSTANCES_DIR: path.join(root, 'bots'),
      TURSO_FILE_DIR: path.join(root, 'targets'),
      FULL_COMPARE_INTERVAL: '1h',
    });
    await createTestBot(root, 'renamed', { trades: 40, seed: 7 });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) await rm(root, { recursive: true, force: true });
  });

  it('reads an old key as the new one, and the new key wins when a payload holds both', () => {
    assert.deepEqual(botSyncContract.payload.parse({ bot: 'renamed', full: true }), {
      bot: 'renamed',
      fullCompare: true,
    });
    assert.deepEqual(tursoPushContract.payload.parse({ instance: 'renamed', fullCompare: true }), {
      bot: 'renamed',
      fullCompare: true,
    });
    assert.deepEqual(tursoPushContract.payload.parse({ bot: 'renamed', instance: 'other' }), { bot: 'renamed' });
  });

  it('runs a bot-sync job of { bot, full }: every row compared', async () => {
    const ctx = recordingContext(env.runtime);
    await runJob('bot-sync', { bot: 'renamed' }, ctx);
    const windowed = (await runJob('bot-sync', { bot: 'renamed', fullCompare: false }, ctx)) as BotSyncResult;
    assert.equal(windowed.fullCompare, undefined);
    const full = (await runJob('bot-sync', { bot: 'renamed', full: true }, ctx)) as BotSyncResult;
    assert.equal(full.fullCompare, 'a full compare was asked for');
  });

  it('runs a turso-push job of { instance, fullCompare }: that bot pushed, every table compared', async () => {
    const ctx = recordingContext(env.runtime);
    const first = (await runJob('turso-push', { bot: 'renamed' }, ctx)) as PushResult;
    assert.ok(first.pushed > 0, 'the first push sends the rows');
    const old = (await runJob('turso-push', { instance: 'renamed', fullCompare: true }, ctx)) as PushResult;
    assert.deepEqual([old.fullCompare, old.pushed, old.target], [true, 0, first.target]);
  });
});
