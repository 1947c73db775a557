import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';

/** A destination that keeps what the logger wrote. */
function memory(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { stream, text: () => text };
}

describe('logger', () => {
  it('writes JSON lines with level, time, message, bindings and fields', () => {
    const out = memory();
    const logger = createLogger('info', { pretty: false, destination: out.stream });
    logger.child({ jobId: '7', queue: 'bot-sync' }).info('job completed', { rows: 12, big: 2n ** 70n });
    logger.debug('not at info');
    const lines = out.text().trim().split('\n');
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(line.level, 'info');
    assert.equal(line.msg, 'job completed');
    assert.equal(line.jobId, '7');
    assert.equal(line.queue, 'bot-sync');
    assert.equal(line.rows, 12);
    assert.equal(line.big, String(2n ** 70n));
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
  });

  it('redacts secrets by path, and user info of URLs in messages, errors and text fields', () => {
    const out = memory();
    const logger = createLogger('debug', { pretty: false, destination: out.stream });
    logger.warn('cannot reach postgres://etl:pg-secret@db.internal:5432/prod', {
      tursoToken: 'turso-secret',
      config: { DATABASE_URL: 'postgres://etl:pg-secret@db/prod', PG_SCHEMA: 'public' },
      headers: { authorization: 'Basic YWRtaW46c2VjcmV0' },
      bot: { token: 'bot-secret', instance: 'alpha' },
      error: 'redis://:redis-secret@cache:6379 refused',
      err: new Error('connect to mongodb://u:mongo-secret@mongo/db failed'),
    });
    const text = out.text();
    for (const secret of [
      'pg-secret',
      'turso-secret',
      'YWRtaW46c2VjcmV0',
      'bot-secret',
      'redis-secret',
      'mongo-secret',
    ]) {
      assert.ok(!text.includes(secret), `${secret} leaked into ${text}`);
    }
    const line = JSON.parse(text) as { bot: { instance: string }; config: { PG_SCHEMA: string }; msg: string };
    assert.equal(line.bot.instance, 'alpha');
    assert.equal(line.config.PG_SCHEMA, 'public');
    assert.equal(line.msg, 'cannot reach postgres://***@db.internal:5432/prod');
  });

  it('prints readable lines through pino-pretty when asked (a terminal)', () => {
    const out = memory();
    createLogger('info', { pretty: true, destination: out.stream }).info('workers ready', { concurrency: 2 });
    assert.match(out.text(), /INFO.*workers ready/);
    assert.match(out.text(), /concurrency: 2/);
    assert.throws(() => JSON.parse(out.text()));
  });

  it('keeps LOG_LEVEL silent silent', () => {
    const out = memory();
    createLogger('silent', { pretty: false, destination: out.stream }).error('nothing');
    assert.equal(out.text(), '');
  });

  it('writes the last line before process.exit to stderr, not stdout', () => {
    const script = [
      "import { createLogger } from './src/logger.ts';",
      "const logger = createLogger('info');",
      "for (let i = 0; i < 2000; i++) logger.info('line', { i });",
      "logger.error('last words');",
      'process.exit(3);',
    ].join('\n');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    assert.equal(child.status, 3, child.stderr);
    assert.equal(child.stdout, '');
    const lines = child.stderr.trim().split('\n');
    assert.equal(lines.length, 2001);
    assert.equal((JSON.parse(lines.at(-1) ?? '') as { msg: string }).msg, 'last words');
  });
});
