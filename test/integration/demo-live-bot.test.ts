import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEMO_BOTS, LIVE_BOT, demoBotDb } from '../../scripts/demo-bots.js';
import { createBotDatabase } from '../../scripts/freqtrade/generate-bot-db.js';
import { dryRunBot } from '../../src/bot-sync/dry-run.js';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { recordingContext } from '../helpers/job-context.js';
import { tempDir } from '../helpers/temp-dir.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITER = path.join(ROOT, 'scripts/demo-writer.ts');

/**
 * Runs scripts/demo-writer.ts (every 100 ms) until it has opened `trades` trades, then stops it as
 * the demo does (SIGTERM); returns the trades it opened and closed, from its last line.
 */
async function runWriter(instances: string, trades: number): Promise<{ opened: number; closed: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, '100'], {
    cwd: ROOT,
    env: { ...process.env, BOT_INSTANCES_DIR: instances },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the demo writer did not open ${trades} trades: ${output}`)),
      60_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const progress = [...output.matchAll(/demo-writer: (\d+) trades opened/g)].map((m) => Number(m[1]));
      if (progress.some((opened) => opened >= trades)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`the demo writer exited: ${output}`)));
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  const last = /demo-writer: stopped after (\d+) trades opened, (\d+) closed/.exec(output);
  assert.ok(last, output);
  return { opened: Number(last[1]), closed: Number(last[2]) };
}

describe("npm run demo's live bot: bot-sync reads change windows while the demo writer trades", () => {
  const tracker = failureTracker();
  const dir = tempDir('demo-live');
  const instances = path.join(dir.path, 'bots');
  let env: TestEnvironment;

  before(async () => {
    env = await createTestEnvironment('demo_live', { BOT_INSTANCES_DIR: instances });
  });

  after(async () => {
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) dir.remove();
  });

  it("syncs the writer's new and closed trades by change windows, missing nothing", async () => {
    // The demo's bot as scripts/demo-data.ts makes it, synced once before the writer starts.
    createBotDatabase(demoBotDb(instances, LIVE_BOT), DEMO_BOTS[LIVE_BOT]!);
    const first = await syncBot(recordingContext(env.runtime), LIVE_BOT);
    assert.equal(first.trades.inserted, DEMO_BOTS[LIVE_BOT]!.trades);

    const written = await runWriter(instances, 30);
    const ctx = recordingContext(env.runtime);
    const synced = await syncBot(ctx, LIVE_BOT);
    assert.equal(synced.fullCompare, undefined, `a windowed sync, not a full compare: ${synced.fullCompare}`);
    assert.equal(synced.skipped, undefined);
    assert.ok(
      ctx.lines.some((line) => line.startsWith(`bot ${LIVE_BOT}: change windows since`)),
      ctx.lines.join('\n'),
    );
    // Its trades opened arrive, the older open ones it closed are updated.
    assert.equal(synced.trades.inserted, written.opened);
    assert.equal(synced.trades.updated, written.closed);
    assert.equal(synced.trades.deleted, 0);

    // A full compare finds nothing left to do: the windows missed nothing.
    const plan = await dryRunBot(recordingContext(env.runtime), LIVE_BOT);
    const left = [plan.trades, plan.orders].flatMap((table) => [
      table.inserted.count,
      table.updated.count,
      table.deleted.count,
    ]);
    assert.deepEqual(left, [0, 0, 0, 0, 0, 0]);
  });
});
