import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { EJSON, type Document } from 'bson';
import { oid, snapshotDoc, userDoc } from '../../scripts/mongo/documents.js';

/** What PostgreSQL must hold after importing a corpus: mongo_id -> the checked value. */
export interface ExpectedRows {
  users: Map<string, string>;
  snapshots: Map<string, string>;
  /** Source entries (lines or documents) each import must reject. */
  userRejects: number;
  snapshotRejects: number;
}

/** One entry of a corpus: a document, or an export line that is not one. */
export type CorpusEntry = Document | string;

/**
 * The users and snapshots of a migration, with the few bad entries a real export has, so a
 * test can check "documents minus rejects" and not only "documents":
 * - users: a duplicate email differing only in case (rejected: emails are unique), a user
 *   without email, and a malformed line (files only);
 * - snapshots: every 500th belongs to no user (an orphan), every 50,000th line is cut short
 *   (files only).
 * The expected side comes from the documents, not from the importer's mappers.
 */
export function importCorpus(
  users: number,
  snapshots: number,
  options: { malformedLines: boolean },
): {
  users: () => Generator<CorpusEntry>;
  snapshots: () => Generator<CorpusEntry>;
  expected: ExpectedRows;
} {
  const expected: ExpectedRows = { users: new Map(), snapshots: new Map(), userRejects: 0, snapshotRejects: 0 };
  for (let n = 1; n <= users; n++) expected.users.set(oid('user', n).toHexString(), `user${n}@example.com`);
  expected.userRejects = options.malformedLines ? 3 : 2;
  for (let n = 1; n <= snapshots; n++) {
    if (isOrphan(n) || (options.malformedLines && isCut(n))) {
      expected.snapshotRejects += 1;
      continue;
    }
    expected.snapshots.set(oid('snapshot', n).toHexString(), totalValueOf(snapshotDoc(n, ownerOf(n, users))));
  }
  return {
    expected,
    *users() {
      for (let n = 1; n <= users; n++) {
        yield userDoc(n);
        if (n === Math.floor(users / 2)) {
          yield { ...userDoc(5), _id: oid('user', users + 1), email: 'USER5@Example.COM', firebaseUid: 'fb-duplicate' };
          yield { _id: oid('user', users + 2), name: 'no email' };
          if (options.malformedLines)
            yield `{"_id":{"$oid":"${oid('user', users + 3).toHexString()}"},"email":"cut@example.com"`;
        }
      }
    },
    *snapshots() {
      for (let n = 1; n <= snapshots; n++) {
        if (isOrphan(n)) yield snapshotDoc(n, users + 1000);
        else if (options.malformedLines && isCut(n))
          yield EJSON.stringify(snapshotDoc(n, ownerOf(n, users))).slice(0, 60);
        else yield snapshotDoc(n, ownerOf(n, users));
      }
    },
  };
}

const isOrphan = (n: number) => n % 500 === 0;
const isCut = (n: number) => n % 50_000 === 25_000;
const ownerOf = (n: number, users: number) => 1 + (n % users);

/** The snapshot's value as the document holds it: totalValue, else equity (exact text). */
function totalValueOf(doc: Document): string {
  const value = (doc.totalValue ?? doc.equity) as { toString(): string };
  return value.toString();
}

/** Writes entries as mongoexport does (canonical Extended JSON, one per line), streaming. */
export async function writeExportStream(path: string, entries: Iterable<CorpusEntry>): Promise<void> {
  const out = createWriteStream(path);
  for (const entry of entries) {
    const line = typeof entry === 'string' ? entry : EJSON.stringify(entry, { relaxed: false });
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
