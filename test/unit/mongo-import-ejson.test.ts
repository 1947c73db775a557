import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { describe, it } from 'node:test';
import { EJSON } from 'bson';
import { parseEjson } from '../../src/mongo-values/ejson.js';
import { snapshotDoc, userDoc } from '../../scripts/mongo/documents.js';

/** What bson alone makes of a line: the reference the fast parse must equal, value for value. */
function reference(text: string): { value?: unknown; error?: string } {
  try {
    return { value: EJSON.parse(text, { relaxed: true, useBigInt64: true }) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function fast(text: string): { value?: unknown; error?: string } {
  try {
    return { value: parseEjson(text) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const lines = [
  ...[1, 2, 3, 4]
    .flatMap((n) => [userDoc(n), snapshotDoc(n, n)])
    .flatMap((doc) => [EJSON.stringify(doc, { relaxed: false }), EJSON.stringify(doc, { relaxed: true })]),
  '{"d":{"$date":"2024-01-02T03:04:05.678Z"},"n":{"$date":1700000000000},"l":{"$date":{"$numberLong":"-62135596800000"}}}',
  '{"a":[{"$oid":"65a000000000000000000001"},[{"$numberDecimal":"1.10"}],{"$numberInt":"-7"},{"$numberDouble":"-0.0"},{"$numberDouble":"Infinity"}]}',
  '{"big":{"$numberLong":"9223372036854775807"},"plain":9007199254740993,"f":1.5,"s":"$notAKey","t":true,"z":null}',
  '{"bin":{"$binary":{"base64":"AQID","subType":"00"}},"ts":{"$timestamp":{"t":1,"i":2}},"re":{"$regularExpression":{"pattern":"^a","options":"i"}}}',
  '{"min":{"$minKey":1},"max":{"$maxKey":1},"u":{"$undefined":true},"ref":{"$ref":"users","$id":{"$oid":"65a000000000000000000001"}}}',
  '{"mixed":{"$oid":"65a000000000000000000001","other":1},"nul":{"$oid":null},"num":{"$oid":5}}',
  '{"_id":1,"__proto__":{"$oid":"65a000000000000000000001"}}',
  '{"bad\\u0000key":1}',
  '{"v":"nul \\u0000 in a value"}',
  '{"x":{"$numberLong":"12x"}}',
  '{"x":{"$numberDecimal":"not a number"}}',
  '{"x":{"$oid":"short"}}',
  '{"x":{"$date":{"$numberLong":"1"},"y":2}}',
  '{"x":{"$date":true}}',
  '[{"$oid":"65a000000000000000000001"}]',
  '"a string"',
  '{"truncated":',
];

describe('mongo-import Extended JSON parse', () => {
  it("gives exactly bson's EJSON.parse (relaxed, useBigInt64) values, types and errors", () => {
    for (const text of lines) {
      const expected = reference(text);
      const actual = fast(text);
      if (expected.error !== undefined) {
        assert.equal(actual.error, expected.error, text);
        continue;
      }
      if (expected.value === null || typeof expected.value !== 'object' || Array.isArray(expected.value)) {
        assert.equal(actual.error, 'expected a JSON object (one document)', text);
        continue;
      }
      assert.ok(
        isDeepStrictEqual(actual.value, expected.value),
        `${text}\n${EJSON.stringify(actual.value)}\n${EJSON.stringify(expected.value)}`,
      );
      assert.equal(
        EJSON.stringify(actual.value, { relaxed: false }),
        EJSON.stringify(expected.value, { relaxed: false }),
        text,
      );
    }
  });

  it('keeps $numberLong and $numberDecimal exact and reads every $date form', () => {
    const doc = parseEjson(
      '{"l":{"$numberLong":"9007199254740993"},"d":{"$numberDecimal":"0.000123456789"},"t":{"$date":{"$numberLong":"1719792001000"}}}',
    );
    assert.equal(doc.l, 9007199254740993n);
    assert.equal((doc.d as { toString(): string }).toString(), '0.000123456789');
    assert.equal((doc.t as Date).toISOString(), '2024-07-01T00:00:01.000Z');
  });
});
