import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tradesMapping } from '../../src/bot-sync/freqtrade-columns.js';
import { COPY_NULL, copyEscape, createRowEncoder } from '../../src/bot-sync/source-lines.js';
import { stagedJson } from '../../src/bot-sync/staged-rows.js';

describe('staged rows as a parameter', () => {
  it('gives back the very fields of the COPY lines: escapes undone, \\N as null', () => {
    const columns = ['id', 'pair', 'is_open', 'exit_reason', 'enter_tag', 'open_date', 'close_rate', 'custom'];
    const encoder = createRowEncoder(tradesMapping, columns);
    const rows = [
      [1n, 'BTC/USDT', 1n, 'stop\tloss\\2\nthen\r', null, '2024-07-30 08:39:46.091747', 0.5, 'x\ty'],
      [2n, 'ETH/USDT', 0n, '\\N', 'tag', null, null, null],
    ];
    const lines = rows.map((row) => encoder.encode(row));
    assert.ok(lines.every((l) => l.problem === undefined));
    const staged = stagedJson(encoder, lines.map((l) => l.line).join(''));
    const fields = JSON.parse(String(staged.params[0])) as Array<Array<string | null>>;
    assert.equal(fields.length, rows.length);
    fields.forEach((row, i) => {
      assert.equal(row.length, encoder.columns.length, `row ${i}: one field per staged column`);
      // Escaped again, the fields are the line PostgreSQL's COPY would have read.
      assert.equal(`${row.map((f) => (f === null ? COPY_NULL : copyEscape(f))).join('\t')}\n`, lines[i]!.line);
    });
    const reason = encoder.columns.findIndex(([name]) => name === 'exit_reason');
    assert.equal(fields[0]![reason], 'stop\tloss\\2\nthen\r');
    assert.equal(fields[1]![reason], '\\N', 'the text \\N is text, not NULL');
    assert.equal(fields[1]![encoder.columns.findIndex(([name]) => name === 'open_date')], null);
    assert.match(staged.from(2), /jsonb_array_elements\(\$2::jsonb\)/);
  });
});
