import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { startTracing, type Tracing } from '../../src/telemetry/tracing.js';

/**
 * One bot-sync's trace, from enqueue through the worker to its PostgreSQL writes. Tracing starts
 * before anything loads pg (the modules that do are imported below it), as bin/ctp-etl.js does.
 */
describe('traces (OpenTelemetry)', { timeout: 120_000 }, () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let cleanup: () => Promise<void> = async () => undefined;

  before(async () => {
    tracing = await startTracing({ serviceName: 'ctp-etl test', exporter });
  });

  after(async () => {
    await cleanup();
    await tracing.shutdown();
  });

  it('follows one bot-sync from enqueue through the worker to its PostgreSQL writes', async () => {
    const { createTestEnvironment } = await import('../helpers/test-runtime.js');
    const { tempDir } = await import('../helpers/temp-dir.js');
    const { botDbPath, createFreqtradeDb } = await import('../../scripts/freqtrade/fixtures.js');
    const { createQueues, closeQueues } = await import('../../src/queues/queues.js');
    const { enqueue } = await import('../../src/producers/enqueue.js');
    const { WorkerPool } = await import('../../src/workers/worker-pool.js');
    const { QueueEvents } = await import('bullmq');

    const dir = tempDir('tracing');
    const env = await createTestEnvironment('tracing', { BOT_INSTANCES_DIR: dir.path });
    createFreqtradeDb(botDbPath(dir.path, 'traced-1'), { trades: 20, seed: 5 });
    const queues = createQueues(env.config, env.runtime.redis('producer'), ['bot-sync']);
    const events = new QueueEvents('bot-sync', {
      connection: env.runtime.redis('worker'),
      prefix: env.config.QUEUE_PREFIX,
    });
    const pool = new WorkerPool(env.runtime, env.runtime.redis('worker'), { queues: ['bot-sync'], concurrency: 1 });
    cleanup = async () => {
      await pool.stop();
      await events.close();
      await closeQueues(queues);
      await env.cleanup();
      dir.remove();
    };
    await events.waitUntilReady();
    pool.start();
    await pool.ready();
    exporter.reset();

    const job = await enqueue(queues, 'bot-sync', { bot: 'traced-1', fullCompare: false });
    await job.waitUntilFinished(events, 60_000);
    await pool.stop(); // the worker's span ends with the job's completion

    const spans = exporter.getFinishedSpans();
    const add = spans.find((s) => s.name.includes('add') && s.name.includes('bot-sync'));
    assert.ok(add, `an enqueue span among: ${spans.map((s) => s.name).join(', ')}`);
    const traceId = add.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const process = inTrace.find((s) => s.name.includes('process'));
    assert.ok(process, `a worker span in the enqueue's trace: ${inTrace.map((s) => s.name).join(', ')}`);

    const sql = (s: ReadableSpan) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? '');
    // The trades go in by COPY (a stream, whose text pg's instrumentation does not record); the
    // sync state committed with them, and the transaction's COMMIT, are in the trace.
    const statements = inTrace.map(sql).filter(Boolean);
    // The strategy's UPDATE rides in the state's statement (a data-modifying WITH).
    const writeKinds = ['COMMIT', 'INSERT INTO bot_sync_state', 'UPDATE bots SET'];
    const kindsOf = (text: string) => writeKinds.filter((kind) => text.replace(/\s+/g, ' ').includes(kind));
    const writes = inTrace.filter((s) => kindsOf(sql(s)).length > 0);
    assert.deepEqual(
      [...new Set(inTrace.flatMap((s) => kindsOf(sql(s))))].sort(),
      ['COMMIT', 'INSERT INTO bot_sync_state', 'UPDATE bots SET'],
      `the bot's PostgreSQL writes in the same trace: ${statements.join(' | ')}`,
    );
    assert.ok(
      statements.some((text) => /trades_aggregated/.test(text)),
      'its trades table read in the trace',
    );
    // Each write descends from the worker's span, which descends from the enqueue.
    const byId = new Map(inTrace.map((s) => [s.spanContext().spanId, s]));
    const ancestors = (span: ReadableSpan): string[] => {
      const chain: string[] = [];
      let parent = span.parentSpanContext?.spanId;
      while (parent && byId.has(parent)) {
        chain.push(parent);
        parent = byId.get(parent)!.parentSpanContext?.spanId;
      }
      return chain;
    };
    for (const write of writes) {
      const chain = ancestors(write);
      assert.ok(chain.includes(process.spanContext().spanId), 'a write under the worker span');
    }
    assert.ok(ancestors(process).includes(add.spanContext().spanId), 'the worker span under the enqueue');
  });
});
