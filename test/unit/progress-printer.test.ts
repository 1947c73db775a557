import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeProgress, ProgressPrinter } from '../../src/cli/progress-printer.js';

function capture(isTTY: boolean): { out: { isTTY: boolean; write(text: string): void }; text: () => string } {
  const chunks: string[] = [];
  return { out: { isTTY, write: (text) => void chunks.push(text) }, text: () => chunks.join('') };
}

describe('progress printer', () => {
  it('reads percents, { done, total } and other objects', () => {
    assert.deepEqual(describeProgress(42), { percent: 42, detail: '' });
    assert.deepEqual(describeProgress({ done: 250, total: 1000 }), { percent: 25, detail: '250/1000' });
    assert.deepEqual(describeProgress(140), { percent: 100, detail: '' });
    assert.deepEqual(describeProgress({ phase: 'orders' }), { detail: '{"phase":"orders"}' });
  });

  it('redraws one bar on a terminal and ends it before the next line', () => {
    const { out, text } = capture(true);
    const printer = new ProgressPrinter(out);
    printer.update('job 1 (echo hi)', 10);
    printer.update('job 1 (echo hi)', { done: 50, total: 100 });
    printer.line('job 1 (echo hi) failed: boom');
    assert.equal(
      text(),
      '\r\x1b[2Kjob 1 (echo hi) [###...........................]  10%' +
        '\r\x1b[2Kjob 1 (echo hi) [###############...............]  50% 50/100' +
        '\njob 1 (echo hi) failed: boom\n',
    );
  });

  it('prints a plain line per tenth of the work elsewhere', () => {
    const { out, text } = capture(false);
    const printer = new ProgressPrinter(out);
    for (const percent of [1, 5, 9, 10, 12, 55, 100, 100]) printer.update('job 2 (echo x)', percent);
    printer.update('job 2 (echo x)', { phase: 'a' });
    printer.update('job 2 (echo x)', { phase: 'a' });
    assert.equal(
      text(),
      ['1%', '10%', '55%', '100%', '{"phase":"a"}'].map((step) => `job 2 (echo x) progress ${step}\n`).join(''),
    );
  });
});
