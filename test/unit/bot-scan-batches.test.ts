import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { scanBotInstanceBatches, scanBotInstances } from '../../src/bots/bot-instances.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('bot folders scanned a batch at a time', () => {
  const dir = tempDir('bot-scan-batches');
  const config = { BOT_INSTANCES_DIR: dir.path, BOT_DB_FILENAMES: ['tradesv3.sqlite'] };
  const bots = ['bot-e', 'bot-a', 'bot-d', 'bot-c', 'bot-b'];
  for (const bot of bots) {
    mkdirSync(path.join(dir.path, bot, 'user_data'), { recursive: true });
    writeFileSync(path.join(dir.path, bot, 'user_data', 'tradesv3.sqlite'), '');
  }
  mkdirSync(path.join(dir.path, 'bot-no-db', 'user_data'), { recursive: true });
  after(() => dir.remove());

  it('yields every bot once, in name order, in batches of at most the size asked, as the whole scan does', async () => {
    const batches = [];
    for await (const batch of scanBotInstanceBatches(config, 2)) batches.push(batch);
    assert.deepEqual(
      batches.map((b) => b.bots.length + b.skipped.length),
      [2, 2, 2],
    );
    assert.deepEqual(
      batches.flatMap((b) => b.bots.map((bot) => bot.name)),
      ['bot-a', 'bot-b', 'bot-c', 'bot-d', 'bot-e'],
    );
    assert.deepEqual(
      batches.flatMap((b) => b.skipped.map((s) => s.name)),
      ['bot-no-db'],
    );
    const whole = await scanBotInstances(config);
    assert.deepEqual(
      whole.bots,
      batches.flatMap((b) => b.bots),
    );
    assert.equal(whole.bots[0]!.dbPath, path.join(dir.path, 'bot-a', 'user_data', 'tradesv3.sqlite'));
  });
});
