import assert from 'node:assert/strict';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { syncBot } from '../../src/bot-sync/sync-bot.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_MIGRATIONS_DIR } from '../../src/migrate/migration-files.js';
import { migrate } from '../../src/migrate/migrate.js';
import { enqueue } from '../../src/producers/enqueue.js';
import { botDbPath, createFreqtradeDb } from '../../scripts/freqtrade/fixtures.js';
import { recordingContext, type RecordingContext } from '../helpers/job-context.js';
import { statementsOf } from '../helpers/pg-statements.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';
import { testConfig, uniqueName } from '../helpers/test-config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Every secret of the configs below starts so: none may be found anywhere after a sync. */
const SECRET = 'SECRET-';

/** A FreqTrade config as operators write them: comments, trailing commas, secrets split off. */
const MAIN_CONFIG = `{
  // the bot as its operator names it
  "bot_name": "Live One",
  "strategy": "ConfigStrategy",
  "dry_run": false, /* real money */
  "stake_currency": "USDT",
  "max_open_trades": 3,
  "trading_mode": "futures",
  "db_url": "postgresql://ft:${SECRET}db-password@db/ft",
  "exchange": {
    "name": "binance",
    "pair_whitelist": ["BTC/USDT:USDT", "ETH/USDT:USDT",],
    "ccxt_config": {"apiKey": "${SECRET}ccxt-key", "secret": "${SECRET}ccxt-secret", "uid": "${SECRET}ccxt-uid"},
  },
  "telegram": {"enabled": true, "token": "${SECRET}telegram-token", "chat_id": "${SECRET}chat"},
  "api_server": {"enabled": true, "username": "ops", "password": "${SECRET}api-password",
                 "jwt_secret_key": "${SECRET}jwt", "ws_token": ["${SECRET}ws-token"]},
  "webhook": {"enabled": true, "url": "https://hooks.example/${SECRET}webhook"},
  "discord": {"enabled": true, "webhook_url": "https://discord.example/${SECRET}discord"},
  "external_message_consumer": {"producers": [{"name": "p", "host": "h", "ws_token": "${SECRET}producer"}]},
  "add_config_files": ["secrets.json"],
}`;

const SECRETS_CONFIG = `{
  "exchange": {"key": "${SECRET}exchange-key", "secret": "${SECRET}exchange-secret",
               "password": "${SECRET}exchange-password", "uid": "${SECRET}exchange-uid",
               "private_key": "${SECRET}private-key", "walletAddress": "${SECRET}wallet"},
  "dry_run": true // overridden by config.json, whose own keys win
}`;

/** A logger whose JSON lines the test reads. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger('debug', { pretty: false, destination: stream }), text: () => text };
}

/** Every value held under the test's queue prefix, as text. */
async function redisText(url: string, prefix: string): Promise<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const parts: string[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') parts.push(String(await redis.get(key)));
        else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
        else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
        else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
        else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        parts.push(key);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return parts.join('\n');
}

interface BotRow {
  name: string | null;
  strategy_name: string | null;
  trading_pairs: string[] | null;
  config: Record<string, unknown> | null;
  dry_run: boolean | null;
  status: string | null;
}

describe('the bot registry holds what the bot files say, and nothing secret', () => {
  const dir = tempDir('bot-registry');
  const env = suiteEnvironment('bot_registry', { BOT_INSTANCES_DIR: dir.path }, { dir });

  const row = async (instance: string): Promise<BotRow> => {
    const result = await env.db.pool.query<BotRow>(
      'SELECT name, strategy_name, trading_pairs, config, dry_run, status FROM bots WHERE instance_id = $1',
      [instance],
    );
    assert.equal(result.rowCount, 1, `bot ${instance} is registered`);
    return result.rows[0]!;
  };

  const capturingContext = (): { ctx: RecordingContext; logText: () => string } => {
    const captured = capturedLogger();
    const ctx = { ...recordingContext(env.runtime), logger: captured.logger };
    return { ctx, logText: captured.text };
  };

  before(() => {
    createFreqtradeDb(botDbPath(dir.path, 'live'), { trades: 6, ordersPerTrade: 1, seed: 5 });
    writeFileSync(path.join(dir.path, 'live', 'config.json'), MAIN_CONFIG);
    writeFileSync(path.join(dir.path, 'live', 'secrets.json'), SECRETS_CONFIG);
    createFreqtradeDb(botDbPath(dir.path, 'bare'), { trades: 3, ordersPerTrade: 1, seed: 6 });
    createFreqtradeDb(botDbPath(dir.path, 'broken'), { trades: 3, ordersPerTrade: 1, seed: 7 });
    // A secret just before the error: the warning must not quote the text around it.
    writeFileSync(
      path.join(dir.path, 'broken', 'config.json'),
      `{\n  "strategy": "X",\n  "exchange": {"secret": "${SECRET}broken" "key": 1}\n}`,
    );
  });

  it("reads the bot's config.json: name, strategy, pairs, dry_run and settings, every secret removed", async () => {
    const { ctx, logText } = capturingContext();
    const result = await syncBot(ctx, 'live');
    assert.equal(result.trades.inserted, 6);
    const bot = await row('live');
    assert.equal(bot.name, 'Live One');
    assert.equal(bot.strategy_name, 'ConfigStrategy', "the config's strategy, not the one of the latest trade");
    assert.deepEqual(bot.trading_pairs, ['BTC/USDT:USDT', 'ETH/USDT:USDT']);
    assert.equal(bot.dry_run, false, "config.json's own dry_run wins over the added file's");
    assert.equal(bot.status, 'trading', 'the database was just written');
    assert.equal(bot.config?.stake_currency, 'USDT');
    assert.equal(bot.config?.max_open_trades, 3);
    assert.equal(bot.config?.trading_mode, 'futures');
    assert.deepEqual(bot.config?.api_server, { enabled: true, username: 'ops' });
    assert.deepEqual(bot.config?.exchange, {
      name: 'binance',
      pair_whitelist: ['BTC/USDT:USDT', 'ETH/USDT:USDT'],
      ccxt_config: {},
    });
    const stored = JSON.stringify(bot.config);
    assert.ok(!stored.includes(SECRET), `no secret in PostgreSQL: ${stored}`);
    const logs = logText() + ctx.lines.join('\n');
    assert.ok(logs.length > 0 && !logs.includes(SECRET), 'no secret in the logs');
  });

  it('a bot without config.json: what no file says is NULL, not a default', async () => {
    await syncBot(capturingContext().ctx, 'bare');
    const bot = await row('bare');
    assert.equal(bot.name, 'bare', 'named by its folder');
    assert.equal(bot.trading_pairs, null);
    assert.equal(bot.config, null);
    assert.equal(bot.dry_run, null);
    assert.equal(bot.status, 'trading');
    assert.notEqual(bot.strategy_name, null, 'the strategy of its latest trade');
  });

  it('a bad config.json is a warning naming the file and where, without its text; the sync succeeds', async () => {
    const { ctx, logText } = capturingContext();
    const result = await syncBot(ctx, 'broken');
    assert.equal(result.trades.inserted, 3);
    const file = path.join(dir.path, 'broken', 'config.json');
    const warning = ctx.lines.find((line) => line.includes('warning'));
    assert.ok(warning !== undefined, ctx.lines.join('\n'));
    assert.ok(warning.includes(file), warning);
    assert.match(warning, /is not valid JSON \(line 3, column \d+\)/);
    assert.match(logText(), /"level":"warn".*is not valid JSON/);
    assert.ok(!(logText() + ctx.lines.join('\n')).includes(SECRET), 'the warning quotes none of the file');
    const bot = await row('broken');
    assert.equal(bot.config, null);
    assert.equal(bot.dry_run, null);
  });

  it('a sync that finds the bot as registered writes nothing to its row', async () => {
    const updatedAt = async (): Promise<string> =>
      (await env.db.pool.query<{ at: string }>("SELECT updated_at::text AS at FROM bots WHERE instance_id = 'live'"))
        .rows[0]!.at;
    const before = await updatedAt();
    await syncBot(capturingContext().ctx, 'live');
    assert.equal(await updatedAt(), before);
  });

  it('a sync of a bot registered as it is sends no registration; a changed config.json, or a row written since, is registered again', async () => {
    const registrations = (statements: string[]) => statements.filter((text) => text.includes('INSERT INTO bots'));
    const configFile = path.join(dir.path, 'live', 'config.json');
    await syncBot(capturingContext().ctx, 'live');
    const unchanged = await statementsOf(() => syncBot(capturingContext().ctx, 'live'));
    assert.deepEqual(registrations(unchanged.statements), [], 'no registration for a bot registered as it is');

    writeFileSync(configFile, MAIN_CONFIG.replace('"Live One"', '"Live Two"'));
    await syncBot(capturingContext().ctx, 'live');
    assert.equal((await row('live')).name, 'Live Two', 'the changed config.json reached PostgreSQL');
    writeFileSync(configFile, MAIN_CONFIG);
    await syncBot(capturingContext().ctx, 'live');
    assert.equal((await row('live')).name, 'Live One', 'and back');

    // Another process wrote the row (a worker that read another config.json, discovery): the sync
    // registers the bot as its files say, as the first statement used to on every sync.
    await env.db.pool.query(
      "UPDATE bots SET name = 'written elsewhere', missing_since = now() WHERE instance_id = 'live'",
    );
    await syncBot(capturingContext().ctx, 'live');
    const bot = await env.db.pool.query<{ name: string; missing: boolean }>(
      "SELECT name, missing_since IS NOT NULL AS missing FROM bots WHERE instance_id = 'live'",
    );
    assert.deepEqual(bot.rows[0], { name: 'Live One', missing: false });
    // Due its hourly last_seen_at: refreshed.
    await env.db.pool.query("UPDATE bots SET last_seen_at = now() - interval '2 hours' WHERE instance_id = 'live'");
    const due = await statementsOf(() => syncBot(capturingContext().ctx, 'live'));
    assert.equal(registrations(due.statements).length, 1);
    const seen = await env.db.pool.query<{ fresh: boolean }>(
      "SELECT last_seen_at > now() - interval '1 minute' AS fresh FROM bots WHERE instance_id = 'live'",
    );
    assert.equal(seen.rows[0]!.fresh, true);
  });

  it('status follows the database file: idle once it has not been written for a while, trading again when it is', async () => {
    const file = botDbPath(dir.path, 'bare');
    const hourAgo = new Date(Date.now() - 60 * 60_000);
    for (const f of [file, `${file}-wal`]) if (existsSync(f)) utimesSync(f, hourAgo, hourAgo);
    await syncBot(capturingContext().ctx, 'bare');
    assert.equal((await row('bare')).status, 'idle');
    const now = new Date();
    utimesSync(file, now, now);
    await syncBot(capturingContext().ctx, 'bare');
    assert.equal((await row('bare')).status, 'trading');
  });

  it('no secret reaches Redis through a queued sync either', async () => {
    const { queues, events } = await env.startQueueHarness('bot-sync');
    const job = await enqueue(queues, 'bot-sync', { bot: 'live', fullCompare: true });
    await job.waitUntilFinished(events, 30_000);
    const held = await redisText(env.config.REDIS_URL, env.config.QUEUE_PREFIX);
    assert.ok(held.includes('live'), 'the job is in Redis');
    assert.ok(!held.includes(SECRET), 'no secret in Redis');
    assert.equal((await row('live')).name, 'Live One');
  });
});

describe('migration 016: the defaults no bot file ever said become NULL', () => {
  const config = testConfig(uniqueName('bot_registry_016'));
  const folder = tempDir('migrations-015');
  let db: TestDatabase;
  const tracker = failureTracker();

  before(async () => {
    db = await createTestDatabase(config, { migrate: false });
  });
  after(async () => {
    if (tracker.failed) await db.close();
    else await db.drop();
    folder.remove();
  });

  it('turns the default rows to NULL, keeps the rest, and lets new rows leave them NULL', async () => {
    const files = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
    for (const name of files.filter((file) => file < '016'))
      await copyFile(path.join(DEFAULT_MIGRATIONS_DIR, name), path.join(folder.path, name));
    await migrate(db.pool, config.PG_SCHEMA, folder.path);
    await db.pool.query("INSERT INTO bots (instance_id, name) VALUES ('old', 'old')");
    for (const name of files) await copyFile(path.join(DEFAULT_MIGRATIONS_DIR, name), path.join(folder.path, name));
    const applied = await migrate(db.pool, config.PG_SCHEMA, folder.path);
    assert.ok(
      applied.applied.some((name) => name.startsWith('016')),
      JSON.stringify(applied),
    );
    await db.pool.query("INSERT INTO bots (instance_id) VALUES ('new')");
    const rows = await db.pool.query(
      'SELECT instance_id, name, trading_pairs, config, status, dry_run FROM bots ORDER BY instance_id',
    );
    assert.deepEqual(rows.rows, [
      { instance_id: 'new', name: null, trading_pairs: null, config: null, status: null, dry_run: null },
      { instance_id: 'old', name: 'old', trading_pairs: null, config: null, status: null, dry_run: null },
    ]);
  });
});
