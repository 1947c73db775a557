import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, canonicalTimestamp } from '../../src/verify/canonical-values.js';

describe('canonical values: one spelling per value, so verify compares text', () => {
  it('JSON: keys sorted, last of a repeated key, numbers exact and canonical, strings one way', () => {
    assert.equal(
      canonicalJson('{ "b": [1.50, 15e-1, -0, 9007199254740993], "a": {"y": "\\u00e9\\n", "x": null}, "b2": true }'),
      '{"a":{"x":null,"y":"é\\n"},"b":[1.5,1.5,0,9007199254740993],"b2":true}',
    );
    assert.equal(canonicalJson('{"k": 1, "k": 2}'), '{"k":2}');
    assert.notEqual(canonicalJson('[9007199254740993]'), canonicalJson('[9007199254740992]'));
    assert.equal(canonicalJson('{"a":"q\\"uote"}'), '{"a":"q\\"uote"}');
    assert.throws(() => canonicalJson('{"a":1'), /JSON: expected/);
  });

  it('timestamps: UTC at microseconds, from JavaScript and from PostgreSQL', () => {
    assert.equal(canonicalTimestamp('2024-06-01T00:02:00.000Z'), '2024-06-01T00:02:00.000000Z');
    assert.equal(canonicalTimestamp('2024-06-01T00:02:00.000001Z'), '2024-06-01T00:02:00.000001Z');
    assert.equal(canonicalTimestamp('2024-06-01T00:02:00Z'), '2024-06-01T00:02:00.000000Z');
    assert.equal(canonicalTimestamp('2024-06-01T02:02:00+02:00'), '2024-06-01T00:02:00.000000Z');
    assert.equal(canonicalTimestamp('+010000-01-01T00:00:00.000Z'), '10000-01-01T00:00:00.000000Z');
    assert.equal(canonicalTimestamp('10000-01-01T00:00:00.000001Z'), '10000-01-01T00:00:00.000001Z');
    assert.equal(canonicalTimestamp('-000001-01-01T00:00:00.000Z'), '-000001-01-01T00:00:00.000Z');
  });
});
