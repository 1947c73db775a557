import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyList } from '../../src/bot-sync/source-lines.js';
import { MAX_KEY } from '../../src/bot-sync/freqtrade-columns.js';

describe('key list', () => {
  it('keeps every key pushed, in order, past its first capacity', () => {
    const list = new KeyList();
    const keys = Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? i * 7 : -i));
    for (const key of keys) list.push(key);
    assert.equal(list.length, keys.length);
    assert.deepEqual(
      keys.map((_, i) => list.at(i)),
      keys,
    );
    assert.equal(list.at(-1), keys.at(-1));
    assert.equal(list.at(keys.length), undefined);
  });

  it('answers membership for keys pushed in any order, the INTEGER limits included', () => {
    const list = new KeyList();
    const keys = [5, -3, MAX_KEY, -MAX_KEY, 0, 1_000_000, 42];
    for (const key of keys) list.push(key);
    const set = list.toSet();
    for (const key of keys) assert.equal(set.has(key), true, `has ${key}`);
    for (const key of [1, -1, 6, 41, 43, MAX_KEY - 1, 999_999]) assert.equal(set.has(key), false, `lacks ${key}`);
    assert.equal(new KeyList().toSet().has(0), false);
  });

  it('refuses a key PostgreSQL INTEGER cannot hold, naming it', () => {
    const list = new KeyList();
    assert.throws(() => list.push(MAX_KEY + 1), /key 2147483648 is not a PostgreSQL INTEGER/);
    assert.throws(() => list.push(1.5), /key 1.5 is not a PostgreSQL INTEGER/);
  });
});
