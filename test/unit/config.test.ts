import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { formatDuration, parseDuration } from '../../src/duration.js';

describe('loadConfig', () => {
  it('gives working defaults for a developer machine', () => {
    const config = loadConfig({});
    assert.equal(config.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/postgres');
    assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(config.SYNC_INTERVAL, 300_000);
    assert.equal(config.QUEUE_PREFIX, 'ctp');
    assert.deepEqual(config.BOT_DB_FILENAMES, ['tradesv3.sqlite', 'tradesv3.dryrun.sqlite']);
    assert.equal(config.MONGO_URL, undefined);
    assert.equal(config.BOARD_AUTH, true);
    assert.ok(Object.isFrozen(config));
  });

  it('names every bad variable in one error', () => {
    assert.throws(
      () => loadConfig({ SYNC_INTERVAL: '5 minutes', JOB_ATTEMPTS: '0', REDIS_URL: 'http://x', BOARD_AUTH: 'maybe' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /SYNC_INTERVAL: expected a duration/);
        assert.match(error.message, /JOB_ATTEMPTS: expected a whole number from 1 to 100 \(given: "0"\)/);
        assert.match(error.message, /REDIS_URL: expected a URL starting with redis:\/\/ or rediss:\/\//);
        assert.match(error.message, /BOARD_AUTH: expected true or false/);
        return true;
      },
    );
  });

  it('reads Redis Cluster seeds, with credentials and TLS from a seed written as a URL', () => {
    const plain = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:6379, 10.0.0.2:6380', QUEUE_PREFIX: '{ctp}' });
    assert.deepEqual(plain.REDIS_CLUSTER_NODES, [
      { host: '10.0.0.1', port: 6379, tls: false },
      { host: '10.0.0.2', port: 6380, tls: false },
    ]);
    const managed = loadConfig({
      REDIS_CLUSTER_NODES: 'rediss://app:p%40ss@cache.example:6379',
      QUEUE_PREFIX: 'x{ctp}',
    });
    assert.deepEqual(managed.REDIS_CLUSTER_NODES, [
      { host: 'cache.example', port: 6379, tls: true, username: 'app', password: 'p@ss' },
    ]);
    assert.equal(loadConfig({}).REDIS_CLUSTER_NODES, undefined);
  });

  it('refuses a queue prefix that would split a queue across cluster slots, saying how to write it', () => {
    for (const prefix of ['ctp', '{}ctp', 'ctp{', 'c}t{p']) {
      assert.throws(
        () => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: prefix }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(
            error.message,
            /QUEUE_PREFIX: on a Redis Cluster \(REDIS_CLUSTER_NODES is set\) the prefix must hold a hash tag/,
          );
          assert.match(error.message, /write it as "\{ctp\}"/);
          return true;
        },
        prefix,
      );
    }
    // Without a cluster the same prefixes are fine: one Redis has no slots.
    assert.equal(loadConfig({ QUEUE_PREFIX: 'ctp' }).QUEUE_PREFIX, 'ctp');
  });

  it('names a malformed cluster seed without echoing its password', () => {
    for (const nodes of ['127.0.0.1', 'redis://u:s3cret@host', 'http://h:1', 'redis://h:1/2']) {
      assert.throws(
        () => loadConfig({ REDIS_CLUSTER_NODES: nodes, QUEUE_PREFIX: '{ctp}' }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, /REDIS_CLUSTER_NODES: expected comma-separated host:port seeds/);
          assert.doesNotMatch(error.message, /s3cret/);
          return true;
        },
        nodes,
      );
    }
  });

  it('never echoes a password from a bad variable', () => {
    assert.throws(
      () =>
        loadConfig({ DATABASE_URL: 'mysql://admin:s3cret@db/x', BOARD_PASSWORD: 'x'.repeat(3), PG_POOL_MAX: 'lots' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /DATABASE_URL/);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      },
    );
  });

  it('masks the user info of an unparsable URL, whatever its shape', () => {
    const cases = {
      DATABASE_URL: 'postgres://u:secret@db.internal:54321x/prod',
      REDIS_URL: 'redis://:secret@cache internal:6379',
      MONGO_URL: 'mongo://admin:se@cr/et@mongo.internal:27017/legacy',
    };
    assert.throws(
      () => loadConfig(cases),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /DATABASE_URL: .*\(given: "postgres:\/\/\*\*\*@db\.internal:54321x\/prod"\)/);
        assert.match(error.message, /REDIS_URL: .*\(given: "redis:\/\/\*\*\*@cache internal:6379"\)/);
        assert.match(error.message, /MONGO_URL: .*\(given: "mongo:\/\/\*\*\*@mongo\.internal:27017\/legacy"\)/);
        assert.doesNotMatch(error.message, /secret|se@cr|et@/);
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'pg:u:secret@db/prod' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.doesNotMatch(error.message, /secret/);
        return true;
      },
    );
  });

  it('refuses a schema or prefix that could break SQL or Redis keys', () => {
    assert.throws(
      () => loadConfig({ PG_SCHEMA: 'public; DROP TABLE users' }),
      /PG_SCHEMA: expected a lower-case SQL identifier/,
    );
    assert.throws(() => loadConfig({ QUEUE_PREFIX: 'a b' }), /QUEUE_PREFIX/);
    assert.throws(() => loadConfig({ BOT_DB_FILENAMES: '../x.sqlite' }), /BOT_DB_FILENAMES/);
  });

  it('treats an empty optional variable as unset', () => {
    assert.equal(loadConfig({ MONGO_URL: '' }).MONGO_URL, undefined);
    assert.equal(loadConfig({ MONGO_URL: 'mongodb://h:27017/db' }).MONGO_URL, 'mongodb://h:27017/db');
  });
});

describe('durations', () => {
  it('parses and formats the units the README lists', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('7d'), 604_800_000);
    assert.equal(parseDuration('1500'), 1500);
    assert.equal(parseDuration('0s'), undefined);
    assert.equal(parseDuration('5 min'), undefined);
    assert.equal(formatDuration(300_000), '5m');
    assert.equal(formatDuration(1500), '1500ms');
  });
});

describe('change watcher variables', () => {
  it('defaults to file events, a 500 ms debounce and a 2 s poll', () => {
    const config = loadConfig({});
    assert.equal(config.WATCH_MODE, 'events');
    assert.equal(config.WATCH_DEBOUNCE, 500);
    assert.equal(config.WATCH_POLL_INTERVAL, 2000);
    const poll = loadConfig({ WATCH_MODE: 'poll', WATCH_DEBOUNCE: '200ms', WATCH_POLL_INTERVAL: '5s' });
    assert.deepEqual([poll.WATCH_MODE, poll.WATCH_DEBOUNCE, poll.WATCH_POLL_INTERVAL], ['poll', 200, 5000]);
  });

  it('names each bad watcher variable', () => {
    assert.throws(
      () => loadConfig({ WATCH_MODE: 'inotify', WATCH_DEBOUNCE: 'soon', WATCH_POLL_INTERVAL: '1ms' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /WATCH_MODE: .*"events"\|"poll"\|"off" \(given: "inotify"\)/);
        assert.match(error.message, /WATCH_DEBOUNCE: expected a duration/);
        assert.match(error.message, /WATCH_POLL_INTERVAL: expected a duration from 10ms to 10m \(given: "1ms"\)/);
        return true;
      },
    );
    assert.throws(() => loadConfig({ WATCH_DEBOUNCE: '2m' }), /WATCH_DEBOUNCE: expected a duration from 1ms to 60s/);
  });
});
