import type { Document } from 'bson';
import {
  dateText,
  decimalText,
  documentId,
  FieldError,
  firstOf,
  mongoId,
  objectIdTime,
  text,
  type MongoId,
} from '../mongo-values/bson-values.js';
import { jsonDataText } from '../mongo-values/json-data.js';

/** A portfolio_snapshots row before its user is resolved (userRef: firebase uid or user _id). */
export interface SnapshotRow {
  id: MongoId;
  /** The owner: a firebase uid (a string) or the user's _id, of its own type. */
  userRef: MongoId;
  totalValue: string;
  cashBalance: string | null;
  positionsValue: string | null;
  data: string;
  timeframe: string;
  recordedAt: string;
}

/**
 * Maps a Mongo portfoliosnapshots document. The owner is `userId` (a firebase uid in the
 * platform, or the user's Mongo _id); the value is `totalValue` or `equity`; the time is
 * `timestamp` or `createdAt`. The whole document is kept as JSON in `data`.
 */
export function mapSnapshot(doc: Document): SnapshotRow {
  const id = documentId(doc);
  const owner = firstOf(doc, ['userId', 'user_id', 'firebaseUid', 'firebase_uid', 'user']);
  const userRef = mongoId(owner.name, owner.value);
  if (userRef === undefined) throw new FieldError('no userId');
  const total = firstOf(doc, ['totalValue', 'total_value', 'equity', 'totalEquity']);
  const totalValue = decimalText(total.name, total.value);
  if (totalValue === undefined) throw new FieldError('no totalValue or equity');
  const cash = firstOf(doc, ['cash', 'cashBalance', 'cash_balance']);
  const positions = firstOf(doc, ['positionsValue', 'positions_value']);
  const time = firstOf(doc, ['timestamp', 'recordedAt', 'recorded_at', 'createdAt', 'created_at']);
  const recordedAt = dateText(time.name, time.value) ?? objectIdTime(doc._id);
  if (recordedAt === undefined) throw new FieldError('no timestamp or createdAt');
  return {
    id,
    userRef,
    totalValue,
    cashBalance: decimalText(cash.name, cash.value) ?? null,
    positionsValue: decimalText(positions.name, positions.value) ?? null,
    data: jsonDataText(doc),
    timeframe: text('timeframe', doc.timeframe, 20) ?? 'adhoc',
    recordedAt,
  };
}
