import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Decimal128 as EsmDecimal128, ObjectId as EsmObjectId } from 'bson';
import { Decimal128 as DriverDecimal128, Long as DriverLong, ObjectId as DriverObjectId } from 'mongodb';
import { decimalText, mongoId } from '../../src/mongo-values/bson-values.js';
import { parseEjson } from '../../src/mongo-values/ejson.js';
import { readExportFile } from '../../src/import/export-file.js';
import { jsonDataText } from '../../src/mongo-values/json-data.js';
import { mapUser } from '../../src/users/map-user.js';

describe('mongo-import values', () => {
  it('parses $numberLong beyond 2^53 exactly, in canonical and relaxed documents', () => {
    const doc = parseEjson(
      '{"a":{"$numberLong":"9007199254740993"},"b":{"$numberInt":"7"},"c":1.5,"d":{"$date":1700000000000}}',
    );
    assert.equal(doc.a, 9007199254740993n);
    assert.equal(decimalText('a', doc.a), '9007199254740993');
    assert.equal(doc.b, 7);
    assert.equal((doc.d as Date).toISOString(), '2023-11-14T22:13:20.000Z');
  });

  it('reads BSON values from the driver (CommonJS bson) and from bson (ES module) alike', () => {
    assert.equal(decimalText('x', DriverDecimal128.fromString('1.10')), '1.10');
    assert.equal(decimalText('x', EsmDecimal128.fromString('1.10')), '1.10');
    assert.equal(decimalText('x', DriverLong.fromString('9223372036854775807')), '9223372036854775807');
    const hex = '65a000000000000000000001';
    assert.deepEqual(mongoId('_id', new DriverObjectId(hex)), { text: hex, type: 'objectId' });
    assert.deepEqual(mongoId('_id', new EsmObjectId(hex)), { text: hex, type: 'objectId' });
    const user = mapUser({
      _id: new DriverObjectId(hex),
      email: 'a@b.c',
      paperBalance: DriverDecimal128.fromString('0.30'),
    });
    assert.equal(user.paperBalance, '0.30');
    assert.equal(user.createdAt, new DriverObjectId(hex).getTimestamp().toISOString());
  });

  it('writes documents as JSON with every digit kept', () => {
    const text = jsonDataText({
      _id: new DriverObjectId('65a000000000000000000001'),
      big: 9007199254740993n,
      dec: DriverDecimal128.fromString('1E+40'),
      at: new Date(0),
      nan: Number.NaN,
    });
    assert.equal(
      text,
      '{"_id":"65a000000000000000000001","big":9007199254740993,"dec":1E+40,"at":"1970-01-01T00:00:00.000Z","nan":"NaN"}',
    );
  });

  it('splits a pretty-printed --jsonArray, braces inside strings included, and resumes at a byte offset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctp-split-'));
    try {
      const file = join(dir, 'a.json');
      writeFileSync(file, '[\n  {"a": "}{\\"]", "é": 1},\n  {"b": [1, {"c": 2}]}\n,{"d":3}]\n');
      const all = [];
      for await (const record of readExportFile(file, { gzip: false, format: 'array', start: { offset: 0, line: 1 } }))
        all.push(record);
      assert.deepEqual(
        all.map((r) => [r.text, r.line]),
        [
          ['{"a": "}{\\"]", "é": 1}', 2],
          ['{"b": [1, {"c": 2}]}', 3],
          ['{"d":3}', 4],
        ],
      );
      const rest = [];
      for await (const record of readExportFile(file, {
        gzip: false,
        format: 'array',
        start: { offset: all[0]!.end, line: all[0]!.nextLine },
      }))
        rest.push(record.text);
      assert.deepEqual(rest, ['{"b": [1, {"c": 2}]}', '{"d":3}']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says with each document how many bytes of the file it has read: compressed ones for gzip, from the offset it resumed at', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctp-bytes-'));
    try {
      // Above one read (256 KiB), so the count grows while the file is read.
      const text = Array.from({ length: 5000 }, (_, i) => `{"_id":${i},"pad":"${'x'.repeat(80)}"}\n`).join('');
      const plain = join(dir, 'users.json');
      const gzip = join(dir, 'users.json.gz');
      writeFileSync(plain, text);
      writeFileSync(gzip, gzipSync(text));
      const counts = async (file: string, isGzip: boolean, start = { offset: 0, line: 1 }) => {
        const seen: number[] = [];
        for await (const record of readExportFile(file, { gzip: isGzip, format: 'lines', start }))
          seen.push(record.fileBytesRead);
        return seen;
      };
      const plainCounts = await counts(plain, false);
      assert.equal(plainCounts.length, 5000);
      assert.ok(plainCounts[0]! > 0 && plainCounts[0]! < statSync(plain).size, `first count ${plainCounts[0]}`);
      assert.ok(
        plainCounts.every((n, i) => i === 0 || n >= plainCounts[i - 1]!),
        'counts never go back',
      );
      assert.equal(plainCounts.at(-1), statSync(plain).size);
      const gzipCounts = await counts(gzip, true);
      assert.equal(gzipCounts.length, 5000);
      assert.equal(gzipCounts.at(-1), statSync(gzip).size);
      // Where line 2501 starts (ASCII: characters are bytes).
      const offset = text.split('\n').slice(0, 2500).join('\n').length + 1;
      const resumed = await counts(plain, false, { offset, line: 2501 });
      assert.equal(resumed.length, 2500);
      assert.ok(resumed[0]! > offset, `first count ${resumed[0]} after resuming at byte ${offset}`);
      assert.equal(resumed.at(-1), statSync(plain).size);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
