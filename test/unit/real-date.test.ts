import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { realDate } from '../../src/bot-sync/column-values.js';

/** The rule written the plain way (a pattern, then the calendar): what realDate must agree with. */
function byPattern(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/.exec(text);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

describe('realDate (FreqTrade date text PostgreSQL takes)', () => {
  it('takes real dates with and without a fraction, and refuses impossible ones', () => {
    for (const text of [
      '2024-02-29 23:59:59',
      '2025-06-01T00:08:07.312',
      '0001-01-01 00:00:00.123456789',
      '2000-02-29 12:00:00',
    ])
      assert.equal(realDate(text), true, text);
    for (const text of [
      '2023-02-29 00:00:00',
      '1900-02-29 00:00:00',
      '2024-04-31 00:00:00',
      '2024-01-01 24:00:00',
      '2024-01-01 23:60:00',
      '2024-01-01 23:59:60',
      '0000-01-01 00:00:00',
      '2024-13-01 00:00:00',
      '2024-00-10 00:00:00',
      '2024-01-00 00:00:00',
      '2024-01-01 00:00:00.',
      '2024-01-01 00:00:00.1234567890',
      '2024-01-01 00:00:00Z',
      '2024-01-01 00:00:00+00:00',
      '2024-01-01',
      '2024/01/01 00:00:00',
      ' 2024-01-01 00:00:00',
      '2024-01-01 00:00:0a',
      '２０２４-01-01 00:00:00',
      '',
    ])
      assert.equal(realDate(text), false, text);
  });

  it('agrees with the pattern and calendar on every text made by changing one character of real dates', () => {
    const alphabet = '0123456789-: T.+Za/\u0660';
    const seeds = [
      '2024-02-29 23:59:59',
      '2023-12-31T00:00:00.5',
      '1999-11-30 12:34:56.123456789',
      '2100-02-28 01:02:03',
    ];
    let checked = 0;
    for (const seed of seeds)
      for (let i = 0; i <= seed.length; i++)
        for (const c of alphabet)
          for (const text of [
            seed.slice(0, i) + c + seed.slice(i + 1),
            seed.slice(0, i) + c + seed.slice(i),
            seed.slice(0, i) + seed.slice(i + 1),
          ]) {
            assert.equal(realDate(text), byPattern(text), JSON.stringify(text));
            checked += 1;
          }
    assert.ok(checked > 1000);
  });
});
