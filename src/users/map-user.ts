import type { Document } from 'bson';
import {
  dateText,
  decimalText,
  documentId,
  FieldError,
  firstOf,
  objectIdTime,
  showIdValue,
  text,
  type MongoId,
} from '../mongo-values/bson-values.js';
import { deserializeEjson } from '../mongo-values/ejson.js';

/** A users row as PostgreSQL is given it: exact text for numbers and dates. */
export interface UserRow {
  id: MongoId;
  email: string;
  /** What email uniqueness compares (emailKey): users.email_key, under a unique index. */
  emailKey: string;
  firebaseUid: string | null;
  name: string | null;
  role: string;
  paperBalance: string;
  createdAt: string | null;
  updatedAt: string | null;
}

const DEFAULT_PAPER_BALANCE = '10000';

/**
 * Maps a Mongo user document. Field names vary between the playbook and real documents
 * (firebaseUid / firebase_uid, paperBalance / paper_balance, ...): both are accepted.
 * Throws FieldError when the document cannot be a user (no _id, no email, wrong types).
 */
export function mapUser(doc: Document): UserRow {
  const id = documentId(doc);
  const email = text('email', firstOf(doc, ['email', 'emailAddress']).value, 320);
  if (email === undefined) throw new FieldError('no email');
  if (!email.includes('@')) throw new FieldError(`email "${email.slice(0, 80)}" has no @`);
  const uid = firstOf(doc, ['firebaseUid', 'firebase_uid', 'firebaseUID', 'uid']);
  const nameField = firstOf(doc, ['name', 'displayName', 'display_name']);
  const balance = firstOf(doc, ['paperBalance', 'paper_balance']);
  const created = firstOf(doc, ['createdAt', 'created_at']);
  const updated = firstOf(doc, ['updatedAt', 'updated_at']);
  const createdAt = dateText(created.name, created.value) ?? objectIdTime(doc._id) ?? null;
  return {
    id,
    email,
    emailKey: emailKey(email),
    firebaseUid: text(uid.name, uid.value, 255) ?? null,
    name: text(nameField.name, nameField.value, 255) ?? null,
    role: text('role', doc.role, 50) ?? 'user',
    paperBalance: decimalText(balance.name, balance.value) ?? DEFAULT_PAPER_BALANCE,
    createdAt,
    updatedAt: dateText(updated.name, updated.value) ?? createdAt,
  };
}

/**
 * The one normalization emails are unique by, wherever a user is written (import, dual-write,
 * reconcile) and whatever the batch size: Unicode NFC, JavaScript's locale-independent lower
 * case, and the final sigma folded to σ (lower case spells "ΣΑΣ" as "σας", which must meet
 * "σασ"). PostgreSQL's lower() is never asked: it disagrees with JavaScript's on such letters.
 */
export function emailKey(email: string): string {
  return email.normalize('NFC').toLowerCase().replaceAll('ς', 'σ');
}

/** A user document's _id as Extended JSON, shown as rejects and titles show it (or as sent, when it does not parse). */
export function describeId(id: unknown): string {
  try {
    const value: unknown = deserializeEjson({ id }).id;
    return value === undefined || value === null ? 'without _id' : showIdValue(value);
  } catch {
    return JSON.stringify(id);
  }
}
