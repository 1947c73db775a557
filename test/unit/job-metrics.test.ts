import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { JobMetrics, rowCounts } from '../../src/monitoring/job-metrics.js';

describe('job metrics', () => {
  it('reads row counts from the top level of a result, else sums one level down', () => {
    assert.deepEqual(rowCounts({ inserted: 3, updated: 2, deleted: 0, skipped: 9 }), {
      inserted: 3,
      updated: 2,
      deleted: 0,
    });
    assert.deepEqual(rowCounts({ trades: { inserted: 3, updated: 1 }, orders: { inserted: 4 }, bot: 'bot-0007' }), {
      inserted: 7,
      updated: 1,
    });
    // Totals beside a breakdown are taken as they are, never added to it.
    assert.deepEqual(rowCounts({ pushed: 5, tables: { trades: { pushed: 5 } } }), { pushed: 5 });
    assert.deepEqual(rowCounts({ message: 'hi' }), {});
    assert.deepEqual(rowCounts(null), {});
    assert.deepEqual(rowCounts([{ inserted: 1 }]), {});
    assert.deepEqual(rowCounts({ inserted: -1, updated: Number.NaN, deleted: '3' }), {});
  });

  it('observes durations by job and outcome, and rows written by completed jobs only', async () => {
    const registry = new Registry();
    const metrics = new JobMetrics(registry);
    metrics.observe('bot-sync', { processedOn: 1_000, finishedOn: 1_300 }, 'completed', {
      trades: { inserted: 10, updated: 2 },
      orders: { inserted: 5 },
    });
    metrics.observe('bot-sync', { processedOn: 1_000, finishedOn: 3_000 }, 'completed', { inserted: 1 });
    metrics.observe('bot-sync', { processedOn: 1_000, finishedOn: 1_100 }, 'failed', { inserted: 99 });
    metrics.observe('turso-push', { processedOn: undefined, finishedOn: undefined }, 'completed', { pushed: 4 });
    const text = await registry.metrics();
    assert.match(text, /^ctp_etl_job_duration_seconds_count\{job="bot-sync",outcome="completed"\} 2$/m);
    assert.match(text, /^ctp_etl_job_duration_seconds_sum\{job="bot-sync",outcome="completed"\} 2\.3$/m);
    assert.match(text, /^ctp_etl_job_duration_seconds_bucket\{le="0\.5",job="bot-sync",outcome="completed"\} 1$/m);
    assert.match(text, /^ctp_etl_job_duration_seconds_count\{job="bot-sync",outcome="failed"\} 1$/m);
    assert.match(text, /^ctp_etl_rows_written_total\{job="bot-sync",kind="inserted"\} 16$/m);
    assert.match(text, /^ctp_etl_rows_written_total\{job="bot-sync",kind="updated"\} 2$/m);
    assert.match(text, /^ctp_etl_rows_written_total\{job="turso-push",kind="pushed"\} 4$/m);
    assert.doesNotMatch(text, /job="turso-push",outcome/);
  });
});
