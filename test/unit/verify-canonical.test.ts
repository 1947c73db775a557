import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../src/verify/bot-rows.js';

describe('verify: JSON in one spelling', () => {
  it('sorts keys at every depth, spells numbers as exact decimals and strings as JSON.stringify does', () => {
    assert.equal(
      canonicalJson('{"b": 1.0, "a": [1e-8, "x\\u0041", -0, 1E+2, true, null, {"z": {}, "y": []}], "c\\"d": "é"}'),
      '{"a":[0.00000001,"xA",0,100,true,null,{"y":[],"z":{}}],"b":1,"c\\"d":"é"}',
    );
  });

  it("reads the sync's compact JSON and PostgreSQL's jsonb text of the same value alike", () => {
    const written = JSON.stringify({ a: 0.1 + 0.2, big: '1152921504606846976', blob: { $base64: 'AP8=' }, n: 1e21 });
    const stored =
      '{"a": 0.30000000000000004, "n": 1000000000000000000000, "big": "1152921504606846976", "blob": {"$base64": "AP8="}}';
    assert.equal(canonicalJson(written), canonicalJson(stored));
    assert.notEqual(canonicalJson('{"a": 0.3}'), canonicalJson(written));
  });

  it('keeps NULL apart from the text "null" and refuses what is no JSON', () => {
    assert.equal(canonicalJson(null), null);
    assert.equal(canonicalJson('null'), 'null');
    assert.throws(() => canonicalJson('{"a" 1}'), /not JSON/);
  });
});
