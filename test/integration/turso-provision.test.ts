import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testConfig } from '../helpers/test-config.js';
import { PermanentJobError } from '../../src/errors.js';
import type { JobContext } from '../../src/jobs/job.js';
import { tursoPushEnabled } from '../../src/bots/sync-config.js';
import { contextForLocalRun } from '../../src/workers/job-context.js';
import { runJob } from '../../src/workers/run-job.js';
import { failureTracker } from '../helpers/failure-tracker.js';
import { createTestEnvironment, type TestEnvironment } from '../helpers/test-runtime.js';

const PLATFORM_TOKEN = 'platform-secret-token';

/**
 * A local stand-in for the Turso Platform API (the real one cannot be reached here), answering
 * the documented endpoints: create database (409 when it exists), get database, mint a token.
 */
function platformStandIn() {
  const databases = new Set<string>();
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      requests.push(`${request.method} ${request.url}`);
      const send = (status: number, json: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(json));
      };
      if (request.headers.authorization !== `Bearer ${PLATFORM_TOKEN}`)
        return send(401, { error: `invalid token: ${request.headers.authorization}` });
      const url = new URL(request.url ?? '/', 'http://stand-in');
      const match = /^\/v1\/organizations\/([^/]+)\/databases(?:\/([^/]+))?(\/auth\/tokens)?$/.exec(url.pathname);
      if (!match) return send(404, { error: 'not found' });
      const [, org, name, tokens] = match;
      const database = (n: string) => ({ database: { Name: n, DbId: `id-${n}`, Hostname: `${n}-${org}.turso.io` } });
      if (request.method === 'POST' && name === undefined) {
        const { name: wanted, group } = JSON.parse(body) as { name: string; group: string };
        if (group !== 'bots') return send(400, { error: `no group ${group}` });
        if (databases.has(wanted)) return send(409, { error: `database ${wanted} already exists` });
        databases.add(wanted);
        return send(200, database(wanted));
      }
      if (request.method === 'GET' && name !== undefined && !tokens)
        return databases.has(name) ? send(200, database(name)) : send(404, { error: 'no such database' });
      if (request.method === 'POST' && name !== undefined && tokens) {
        if (url.searchParams.get('authorization') !== 'full-access') return send(400, { error: 'authorization' });
        return databases.has(name) ? send(200, { jwt: `jwt-for-${name}` }) : send(404, { error: 'no such database' });
      }
      return send(405, { error: 'method' });
    });
  });
  return { server, databases, requests };
}

describe('turso-provision', () => {
  const tracker = failureTracker();
  const standIn = platformStandIn();
  let root: string;
  let env: TestEnvironment;
  let ctx: JobContext;

  const syncConfigFile = (bot: string) => path.join(root, 'bots', bot, 'sync-config.json');

  before(async () => {
    standIn.server.listen(0, '127.0.0.1');
    await once(standIn.server, 'listening');
    const { port } = standIn.server.address() as AddressInfo;
    root = await mkdtemp(path.join(tmpdir(), 'turso-provision-'));
    env = await createTestEnvironment('turso_provision', {
      BOT_INSTANCES_DIR: path.join(root, 'bots'),
      TURSO_API_URL: `http://127.0.0.1:${port}`,
      TURSO_ORG: 'acme',
      TURSO_GROUP: 'bots',
      TURSO_PLATFORM_TOKEN: PLATFORM_TOKEN,
    });
    ctx = contextForLocalRun(env.runtime);
    for (const bot of ['Bot_One', 'bot-two', 'bot-three'])
      await mkdir(path.join(root, 'bots', bot), { recursive: true });
  });

  after(async () => {
    standIn.server.close();
    await env.cleanup({ keep: tracker.failed });
    if (!tracker.failed) await rm(root, { recursive: true, force: true });
  });

  it('creates the database, mints a token and writes sync-config.json (owner-only)', async () => {
    const result = await runJob('turso-provision', { instance: 'Bot_One' }, ctx);
    assert.deepEqual(result, {
      instance: 'Bot_One',
      database: 'bot-one',
      url: 'libsql://bot-one-acme.turso.io',
      created: true,
    });
    const written = JSON.parse(await readFile(syncConfigFile('Bot_One'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(written, {
      tursoUrl: 'libsql://bot-one-acme.turso.io',
      tursoToken: 'jwt-for-bot-one',
      enabled: true,
      lastSync: null,
    });
    assert.equal((await stat(syncConfigFile('Bot_One'))).mode & 0o777, 0o600);
    assert.equal(await tursoPushEnabled(env.config, 'Bot_One'), true);
    assert.ok(
      standIn.requests.includes(
        'POST /v1/organizations/acme/databases/bot-one/auth/tokens?expiration=never&authorization=full-access',
      ),
    );
  });

  it('leaves a bot that already has a sync-config.json alone', async () => {
    const before = standIn.requests.length;
    const result = await runJob('turso-provision', { instance: 'Bot_One' }, ctx);
    assert.deepEqual(result, { instance: 'Bot_One', skipped: 'sync-config.json exists' });
    assert.equal(standIn.requests.length, before);
  });

  it('finishes a provisioning that died after creating the database (409, then the existing database)', async () => {
    standIn.databases.add('bot-two');
    const result = await runJob('turso-provision', { instance: 'bot-two' }, ctx);
    assert.deepEqual(result, {
      instance: 'bot-two',
      database: 'bot-two',
      url: 'libsql://bot-two-acme.turso.io',
      created: false,
    });
    assert.ok(standIn.requests.includes('GET /v1/organizations/acme/databases/bot-two'));
  });

  it('fails permanently on a refused platform token, without the token in the error', async () => {
    const config = testConfig(env.name, {
      BOT_INSTANCES_DIR: env.config.BOT_INSTANCES_DIR,
      TURSO_API_URL: env.config.TURSO_API_URL,
      TURSO_ORG: 'acme',
      TURSO_GROUP: 'bots',
      TURSO_PLATFORM_TOKEN: 'wrong-platform-secret',
    });
    const wrong: JobContext = { ...ctx, config };
    await assert.rejects(runJob('turso-provision', { instance: 'bot-three' }, wrong), (error: Error) => {
      assert.ok(error instanceof PermanentJobError);
      assert.match(
        error.message,
        /POST http:\/\/127\.0\.0\.1:\d+\/v1\/organizations\/acme\/databases answered HTTP 401/,
      );
      assert.doesNotMatch(error.message, /wrong-platform-secret/);
      return true;
    });
    await assert.rejects(stat(syncConfigFile('bot-three')), { code: 'ENOENT' });
  });
});
