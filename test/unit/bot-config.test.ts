import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { readBotConfig, withoutSecrets } from '../../src/bots/bot-config.js';
import { tempDir } from '../helpers/temp-dir.js';

describe("a bot's config.json, read as FreqTrade reads it", () => {
  const root = tempDir('bot-config');
  after(() => root.remove());
  let count = 0;
  /** A bot folder holding `files` (name -> text). */
  const bot = (files: Record<string, string>): string => {
    const dir = path.join(root.path, `bot-${++count}`);
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      writeFileSync(path.join(dir, name), text);
    }
    return dir;
  };

  it('takes comments and trailing commas, and leaves strings that look like them alone', async () => {
    const dir = bot({
      'config.json':
        '\uFEFF{\n// a comment\n"strategy": "A//B /* not a comment */", /* c */\n' +
        '"bot_name": "quote \\" // still the name",\n"exchange": {"pair_whitelist": ["X/Y",],},\n}',
    });
    const { facts, warning } = await readBotConfig(dir);
    assert.equal(warning, undefined);
    assert.equal(facts.strategy, 'A//B /* not a comment */');
    assert.equal(facts.name, 'quote " // still the name');
    assert.deepEqual(facts.pairs, ['X/Y']);
    assert.equal(facts.dryRun, undefined, 'not said: unknown');
  });

  it('finds user_data/config.json when the folder has no config.json', async () => {
    const { facts } = await readBotConfig(bot({ 'user_data/config.json': '{"dry_run": true}' }));
    assert.equal(facts.dryRun, true);
  });

  it("merges add_config_files: a later file over an earlier one, the naming file's keys over both", async () => {
    const dir = bot({
      'config.json': '{"strategy": "Main", "add_config_files": ["a.json", "sub/b.json"]}',
      'a.json': '{"strategy": "A", "stake_currency": "USDT", "max_open_trades": 1, "exchange": {"name": "x"}}',
      'sub/b.json': '{"max_open_trades": 2, "exchange": {"pair_whitelist": ["B/C"]}, "add_config_files": ["c.json"]}',
      'sub/c.json': '{"trading_mode": "futures", "max_open_trades": 9}',
    });
    const { facts, warning } = await readBotConfig(dir);
    assert.equal(warning, undefined);
    assert.equal(facts.strategy, 'Main');
    assert.equal(facts.config?.stake_currency, 'USDT');
    assert.equal(facts.config?.max_open_trades, 2);
    assert.equal(facts.config?.trading_mode, 'futures', 'added files are relative to the file naming them');
    assert.deepEqual(facts.config?.exchange, { name: 'x', pair_whitelist: ['B/C'] });
  });

  const refused: Array<[string, Record<string, string>, RegExp]> = [
    [
      'a missing added file',
      { 'config.json': '{"dry_run": false, "add_config_files": ["gone.json"]}' },
      /gone\.json, named by .*config\.json's add_config_files, does not exist/,
    ],
    [
      'an added file outside the folder',
      { 'config.json': '{"dry_run": false, "add_config_files": ["../bot-1/config.json"]}' },
      /bot-1\/config\.json is refused: it resolves to .*, outside the bot's folder/,
    ],
    [
      'a loop',
      { 'config.json': '{"dry_run": false, "add_config_files": ["config.json"]}' },
      /add_config_files nested more than 5 deep/,
    ],
    [
      'a list that is not',
      { 'config.json': '{"dry_run": false, "add_config_files": "x.json"}' },
      /add_config_files is not a list of file names/,
    ],
    ['not an object', { 'config.json': '[1, 2]' }, /config\.json does not hold a JSON object/],
    ['a file cut short', { 'config.json': '{"dry_run": false, "strategy": "' }, /config\.json is not valid JSON/],
  ];
  for (const [what, files, message] of refused) {
    it(`leaves every fact unknown with a warning naming the file: ${what}`, async () => {
      const { facts, warning } = await readBotConfig(bot(files));
      assert.deepEqual(facts, {});
      assert.match(warning ?? '', message);
      assert.match(warning ?? '', /the bot's config is left unknown$/);
    });
  }

  it("refuses a config.json linked outside the bot's folder", async () => {
    const outside = path.join(root.path, 'shared.json');
    writeFileSync(outside, '{"dry_run": false}');
    const dir = bot({});
    symlinkSync(outside, path.join(dir, 'config.json'));
    const { facts, warning } = await readBotConfig(dir);
    assert.deepEqual(facts, {});
    assert.match(warning ?? '', /config\.json is refused: it resolves to .*shared\.json, outside the bot's folder/);
  });

  describe('kept between reads while its files are unchanged', () => {
    /** Files written more than the racy window ago (their change time too): readings of them are kept. */
    const settle = () => new Promise((resolve) => setTimeout(resolve, 2_100));

    it('gives the kept reading for unchanged files, and reads a changed file again (same size, same inode)', async () => {
      const dir = bot({ 'config.json': '{"strategy": "One"}', 'user_data/config.json': '{"strategy": "Two"}' });
      await settle();
      const first = await readBotConfig(dir);
      assert.equal(first.facts.strategy, 'One');
      assert.equal(await readBotConfig(dir), first, 'unchanged: the kept reading');
      writeFileSync(path.join(dir, 'config.json'), '{"strategy": "Uno"}');
      assert.equal((await readBotConfig(dir)).facts.strategy, 'Uno', 'rewritten in place, same size');
      rmSync(path.join(dir, 'config.json'));
      assert.equal((await readBotConfig(dir)).facts.strategy, 'Two', 'gone: the next location is read');
      await settle();
      const second = await readBotConfig(dir);
      assert.equal(await readBotConfig(dir), second);
      writeFileSync(path.join(dir, 'config.json'), '{"strategy": "Three"}');
      assert.equal((await readBotConfig(dir)).facts.strategy, 'Three', 'a config.json that appears is taken');
    });

    it('reads an added file that changed, and a link that points elsewhere', async () => {
      const dir = bot({
        'config.json': '{"strategy": "Main", "add_config_files": ["extra.json"]}',
        'extra.json': '{"dry_run": true}',
        'other.json': '{"dry_run": false}',
      });
      const linked = path.join(dir, 'linked.json');
      writeFileSync(linked, '{"strategy": "Linked"}');
      await settle();
      const first = await readBotConfig(dir);
      assert.equal(first.facts.dryRun, true);
      assert.equal(await readBotConfig(dir), first);
      writeFileSync(path.join(dir, 'extra.json'), '{"dry_run": false}');
      assert.equal((await readBotConfig(dir)).facts.dryRun, false);
      // config.json replaced by a link to a file that was there all along (its own times old).
      rmSync(path.join(dir, 'config.json'));
      symlinkSync(linked, path.join(dir, 'config.json'));
      assert.equal((await readBotConfig(dir)).facts.strategy, 'Linked');
    });

    it('does not keep a reading of a file written just before it was read', async () => {
      const dir = bot({ 'config.json': '{"strategy": "A"}' });
      const first = await readBotConfig(dir);
      assert.equal(first.facts.strategy, 'A');
      assert.notEqual(await readBotConfig(dir), first, 'read again: a write within the same clock tick would not show');
    });
  });

  it('removes every credential, at any depth, and masks the user info of URLs in values', () => {
    const cleaned = withoutSecrets({
      bot_name: 'b',
      exchange: {
        name: 'kraken',
        key: 'k',
        secret: 's',
        password: 'p',
        uid: 'u',
        accountId: 'a',
        walletAddress: 'w',
        privateKey: 'pk',
        ccxt_config: { apiKey: 'k', headers: { 'X-MBX-APIKEY': 'k', Accept: 'json' }, twofa: 't', login: 'l' },
        ccxt_async_config: { enableRateLimit: true, passphrase: 'pp' },
      },
      telegram: { enabled: true, token: 't', chat_id: 'c', authorized_users: ['me'] },
      api_server: { username: 'u', password: 'p', jwt_secret_key: 'j', ws_token: ['w'], CORS_origins: [] },
      webhook: { url: 'https://h/x', webhookentry: { value1: '{pair}' } },
      discord: { webhook_url: 'https://d/x' },
      external_message_consumer: { producers: [{ name: 'p', host: 'h', port: 1, ws_token: 't' }] },
      db_url: 'postgresql://u:p@h/db',
      freqai: { data_url: 'https://user:pw@data.example/feed' },
    });
    assert.deepEqual(cleaned, {
      bot_name: 'b',
      exchange: {
        name: 'kraken',
        ccxt_config: { headers: { Accept: 'json' } },
        ccxt_async_config: { enableRateLimit: true },
      },
      telegram: { enabled: true },
      api_server: { username: 'u', CORS_origins: [] },
      webhook: { webhookentry: { value1: '{pair}' } },
      discord: {},
      external_message_consumer: { producers: [{ name: 'p', host: 'h', port: 1 }] },
      freqai: { data_url: 'https://***@data.example/feed' },
    });
  });
});
