import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { SyncConfigError, tursoPushEnabled } from '../../src/bots/sync-config.js';
import { tempDir } from '../helpers/temp-dir.js';

describe("whether a bot's sync-config.json enables Turso pushes (the answer kept while the file is unchanged)", () => {
  const root = tempDir('sync-config');
  after(() => root.remove());
  const config = { BOT_INSTANCES_DIR: root.path };
  const file = path.join(root.path, 'bot-a', 'sync-config.json');
  mkdirSync(path.dirname(file), { recursive: true });
  /** The file, always the same size: `enabled` true, false or not JSON (`yes`). */
  const write = (enabled: true | false | 'yes') =>
    writeFileSync(
      file,
      `{"tursoUrl":"file:${'a'.repeat(8 - String(enabled).length)}.db","enabled":${String(enabled)}}`,
    );
  /** Past the racy window, so the answer about the file as it is now is kept. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 2_100));

  it('follows every change of the file: rewritten in place at the same size, removed, back, made invalid', async () => {
    assert.equal(await tursoPushEnabled(config, 'bot-a'), false, 'no file');
    write(true);
    assert.equal(await tursoPushEnabled(config, 'bot-a'), true);
    await settle();
    assert.equal(await tursoPushEnabled(config, 'bot-a'), true);
    assert.equal(await tursoPushEnabled(config, 'bot-a'), true);
    write(false);
    assert.equal(await tursoPushEnabled(config, 'bot-a'), false, 'enabled: false, written over the kept answer');
    await settle();
    assert.equal(await tursoPushEnabled(config, 'bot-a'), false);
    write('yes');
    await assert.rejects(tursoPushEnabled(config, 'bot-a'), SyncConfigError);
    await assert.rejects(tursoPushEnabled(config, 'bot-a'), SyncConfigError, 'a bad file is never kept as an answer');
    rmSync(file);
    assert.equal(await tursoPushEnabled(config, 'bot-a'), false, 'removed');
    await settle();
    assert.equal(await tursoPushEnabled(config, 'bot-a'), false);
    write(true);
    assert.equal(await tursoPushEnabled(config, 'bot-a'), true, 'back');
  });
});
