/** MongoDB documents as the platform writes them, and mongoexport files of them, for tests and benchmarks. */
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Decimal128, EJSON, Long, ObjectId, type Document } from 'bson';

/** Deterministic ObjectId for test document n (time part fixed, so ids sort by n). */
export function oid(kind: 'user' | 'snapshot', n: number): ObjectId {
  const prefix = kind === 'user' ? '65a00000' : '65b00000';
  return new ObjectId(`${prefix}${n.toString(16).padStart(16, '0')}`);
}

/** A user document as the platform writes them, alternating the field-name variants. */
export function userDoc(n: number): Document {
  const base: Document = {
    _id: oid('user', n),
    email: `user${n}@example.com`,
    name: `User ${n}`,
    createdAt: new Date(Date.UTC(2024, 0, 1) + n * 60_000),
    updatedAt: new Date(Date.UTC(2024, 5, 1) + n * 60_000),
  };
  if (n % 2 === 0) {
    base.firebaseUid = `fb-${n}`;
    base.paperBalance = Decimal128.fromString(`${10_000 + n}.125`);
  } else {
    base.firebase_uid = `fb-${n}`;
    base.paper_balance = `${5000 + n}.5`;
    base.role = 'admin';
  }
  return base;
}

/** A snapshot of user `user`, owned by firebase uid (even n) or by the user's _id (odd n). */
export function snapshotDoc(n: number, user: number): Document {
  const doc: Document = {
    _id: oid('snapshot', n),
    userId: n % 2 === 0 ? `fb-${user}` : oid('user', user),
    timestamp: new Date(Date.UTC(2024, 6, 1) + n * 1000),
    positions: [{ symbol: 'BTC/USDT', amount: Decimal128.fromString('0.000123456789'), value: 12.5 }],
  };
  if (n % 2 === 0) {
    doc.totalValue = Decimal128.fromString(`${10_000 + n}.0001`);
    doc.cash = 5000.25;
    doc.timeframe = '1d';
  } else {
    doc.equity = Long.fromString('9007199254740993'); // 2^53 + 1: exact only if nothing rounds it
    doc.cashBalance = Long.fromNumber(n);
  }
  return doc;
}

export interface ExportOptions {
  relaxed?: boolean;
  jsonArray?: boolean;
  gzip?: boolean;
}

/** Writes documents as mongoexport does: one Extended JSON document per line, or a --jsonArray. */
export function writeExport(path: string, lines: readonly (Document | string)[], options: ExportOptions = {}): void {
  const texts = lines.map((line) =>
    typeof line === 'string' ? line : EJSON.stringify(line, { relaxed: options.relaxed ?? false }),
  );
  const text = options.jsonArray ? `[${texts.join(',')}]` : `${texts.join('\n')}\n`;
  writeFileSync(path, options.gzip ? gzipSync(text) : text);
}

/**
 * FerretDB (the test and benchmark server) has no Decimal128: store those values as strings, which the
 * mappers accept as well. Files carry the real Decimal128 in the file tests.
 */
export function withoutDecimal128(value: unknown): unknown {
  if ((value as { _bsontype?: unknown } | null)?._bsontype === 'Decimal128') return String(value);
  if (Array.isArray(value)) return value.map(withoutDecimal128);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value as Document).map(([key, item]) => [key, withoutDecimal128(item)]));
  }
  return value;
}
