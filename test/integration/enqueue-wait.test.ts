import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { WorkerPool } from '../../src/workers/worker-pool.js';
import { CLI } from '../../scripts/ctp-etl-child.js';
import { cliEnv, runCli, startCli } from '../helpers/cli-process.js';
import { suiteEnvironment } from '../helpers/suite-environment.js';

const ERASE_LINE = '\u001b[2K';
const quiet = { LOG_LEVEL: 'silent', JOB_ATTEMPTS: '3' };

describe('ctp-etl enqueue --wait', () => {
  const env = suiteEnvironment('enqueue_wait', { JOB_ATTEMPTS: '3' });
  let pool: WorkerPool | undefined;
  env.closeFirst(() => pool?.stop());

  it('says when no worker serves the queue, then follows the job once one starts (exit 0)', async () => {
    const cli = startCli(['enqueue', 'echo', '--json', '{"message":"early"}', '--wait'], cliEnv(env.config, quiet));
    await cli.waitForOutput(/no worker serves queue echo yet/);
    // The worker of this test file: later tests use it too.
    pool = new WorkerPool(env.runtime, env.runtime.redis('worker'), { queues: ['echo'], concurrency: 2 });
    pool.start();
    await pool.ready();
    const { code } = await cli.exited;
    assert.equal(code, 0, cli.output());
    assert.match(cli.output(), /job \d+ \(echo early\) completed: \{"message":"early","attempt":1\}/);
  });

  it('prints plain progress lines off a terminal and the result on completion', async () => {
    const { code, output } = await runCli(
      ['enqueue', 'echo', '--json', '{"message":"slow","durationMs":1500}', '--wait'],
      cliEnv(env.config, quiet),
    );
    assert.equal(code, 0, output);
    assert.match(output, /^enqueued echo job (\d+) \(echo slow\)$/m);
    const steps = [...output.matchAll(/^job \d+ \(echo slow\) progress (\d+)%$/gm)].map((match) => Number(match[1]));
    assert.ok(steps.length >= 3, `progress lines: ${output}`);
    assert.deepEqual(
      steps,
      [...steps].sort((a, b) => a - b),
      'progress only grows',
    );
    assert.equal(steps.at(-1), 100);
    assert.ok(!output.includes('\r') && !output.includes(ERASE_LINE), 'no terminal control codes in a pipe');
    assert.match(output, /^job \d+ \(echo slow\) completed: \{"message":"slow","attempt":1\}$/m);
  });

  it('reports retries, and exits 0 when a later attempt completes', async () => {
    const { code, output } = await runCli(
      ['enqueue', 'echo', '--json', '{"message":"flaky","failAttempts":1}', '--wait'],
      cliEnv(env.config, quiet),
    );
    assert.equal(code, 0, output);
    assert.match(output, /job \d+ \(echo flaky\) attempt failed; retrying in 0(\.\d)?s/); // JOB_BACKOFF 100ms
    assert.match(output, /completed: \{"message":"flaky","attempt":2\}/);
  });

  it('exits non-zero with the job error when the job fails', async () => {
    const permanent = await runCli(
      ['enqueue', 'echo', '--json', '{"message":"nope","permanentFailure":true}', '--wait'],
      cliEnv(env.config, quiet),
    );
    assert.equal(permanent.code, 1, permanent.output);
    assert.match(permanent.output, /^job \d+ \(echo nope\) failed after 1 attempt: echo refused "nope" permanently$/m);

    const exhausted = await runCli(
      ['enqueue', 'echo', '--json', '{"message":"doomed","failAttempts":9}', '--wait'],
      cliEnv(env.config, quiet),
    );
    assert.equal(exhausted.code, 1, exhausted.output);
    assert.match(exhausted.output, /failed after 3 attempts: echo failing attempt 3 of the first 9 on purpose$/m);
  });

  it('exits 0 without --wait, even for a job that will fail', async () => {
    const { code, output } = await runCli(
      ['enqueue', 'echo', '--json', '{"message":"fire","permanentFailure":true}'],
      cliEnv(env.config, quiet),
    );
    assert.equal(code, 0, output);
    assert.match(output, /^enqueued echo job \d+ \(echo fire\)\n$/);
  });

  it('draws a progress bar on a terminal', async () => {
    // `script` gives the command a pseudo-terminal, as an operator's shell would.
    const command = [
      process.execPath,
      CLI,
      'enqueue',
      'echo',
      '--json',
      `'{"message":"tty","durationMs":1000}'`,
      '--wait',
    ].join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: cliEnv(env.config, quiet),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, output);
    const redraws = output.split(`\r${ERASE_LINE}`).slice(1);
    assert.ok(redraws.length >= 3, `the bar is redrawn in place: ${JSON.stringify(output)}`);
    assert.match(redraws[0] ?? '', /^job \d+ \(echo tty\) \[#*\.*\] +\d+%$/);
    assert.match(redraws.at(-1) ?? '', /^job \d+ \(echo tty\) \[#{30}\] 100%\r?\n/);
    assert.match(output, /job \d+ \(echo tty\) completed: \{"message":"tty","attempt":1\}/);
  });
});
