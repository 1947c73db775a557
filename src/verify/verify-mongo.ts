import type pg from 'pg';
import type { Config } from '../config.js';
import type { MongoHandle } from '../connections/mongo.js';
import type { PgPool } from '../connections/postgres.js';
import { errorMessage } from '../errors.js';
import { openFileSource } from '../import/file-source.js';
import type { ImportSource } from '../import/import-source.js';
import { openLiveSource } from '../import/live-source.js';
import { mapInProcess } from '../import/map-records.js';
import { importTargets, type CollectionKind } from '../import/targets.js';
import { showId, type MongoIdType } from '../mongo-values/bson-values.js';
import { DEFAULT_SHOWN_DIFFERENCES, DifferenceLog, type ValueDifference } from './differences.js';
import { canonicalValue, rowChecks, type RowCheck, type StoredRow } from './mongo-rows.js';

export interface CollectionCheck {
  collection: CollectionKind;
  /** The export file's path, or mongodb:<db>.<collection>: the same text imports record in rejects. */
  source: string;
  sourceCount?: number;
  /** Rows in PostgreSQL. */
  target?: number;
  /** Source documents recorded in rejects (they are expected to be missing). */
  rejected?: number;
  ok: boolean;
  error?: string;
  /** The first differences, each named down to its column (as many as verify was asked to show). */
  differences?: ValueDifference[];
  /** How many differences in all. */
  differenceTotal?: number;
}

/** Jobs whose rejects of a Mongo source excuse a document's absence: the import, and the users' reconcile. */
const REJECTING_JOBS = ['mongo-import', 'user-reconcile'];

/**
 * One Mongo collection (live, or an export file) against its PostgreSQL table, field by field.
 * Every document is read, parsed and mapped by the import's own code (the source's batches,
 * or mapInProcess with the target's mapper, as runImport takes them), and each mapped column is compared, canonically, with the
 * stored row: a document whose mapping fails, or that has no row, must be a recorded reject.
 *
 * Design, for bounded memory whatever the sizes. The source is read once in batches in its own
 * order (a live collection by _id, a file in file order); each batch's stored rows are looked up
 * by key (index probes), compared, and the outcome of each key is kept in a temp table in
 * PostgreSQL, not in memory. Merge-joining two sorted streams was not chosen: MongoDB's _id
 * order (types first, numbers by value, strings by bytes) is not one an ORDER BY can promise to
 * reproduce on every server, and a misaligned merge reports rows that are there as missing.
 * Then: the keys whose outcome is a difference, in source order, and a keyset scan of the table
 * for rows no document named ("(row)" stored, no source). All of it in one REPEATABLE READ
 * transaction (rolled back at the end): the table is compared as of one moment.
 *
 * A key in the source more than once (a file with two copies of a document): the import keeps
 * one copy, which one depends on batch boundaries (a later copy in a batch wins) and on
 * updatedAt (users: an older copy never overwrites a newer row). So a stored row is right when
 * it equals one of its copies, and a missing row when every copy was rejected; otherwise the
 * differences from the last copy are reported.
 *
 * Which of two users with one email keeps it depends on order (_id or file order, or who was in
 * PostgreSQL first: upsert-users.ts); the import records the other as a reject naming both. So
 * verify does not re-decide: the recorded rejects say what the import decided, a rejected
 * document is expected absent, and every other document must have a row equal to it. Rejects
 * only excuse absence: a rejected document whose row is there is compared like any other.
 * Every row of the table is expected to come from the source verified (as the count check
 * before): users only the dual-write wrote are "(row)" differences against an older export file.
 */
export async function verifyCollection(
  config: Config,
  pg: PgPool,
  collection: CollectionKind,
  source: { file: string } | { mongo: () => Promise<MongoHandle> },
  shownDifferences: number = DEFAULT_SHOWN_DIFFERENCES,
): Promise<CollectionCheck> {
  let ref = 'file' in source ? source.file : 'mongodb';
  try {
    const batchSize = config.IMPORT_BATCH_SIZE;
    let opened: ImportSource;
    if ('file' in source) {
      opened = await openFileSource(collection, source.file, config.IMPORT_MAX_DOCUMENT_BYTES);
    } else {
      const { db } = await source.mongo();
      const name = collection === 'users' ? config.MONGO_USERS_COLLECTION : config.MONGO_SNAPSHOTS_COLLECTION;
      opened = await openLiveSource(collection, db, name, batchSize);
    }
    ref = opened.ref;
    const client = await pg.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const compared = await compareCollection(client, collection, opened, batchSize, shownDifferences);
      return { ...compared, collection, source: ref, ok: compared.differenceTotal === 0 };
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  } catch (error) {
    return { collection, source: ref, ok: false, error: errorMessage(error) };
  }
}

/** Where one key of the source stands after the documents read so far (see verifyCollection). */
interface KeyOutcome {
  key: { text: string; type: string };
  /** Order of the key's first document in the source, so differences are reported in source order. */
  ord: number;
  present: boolean;
  /** Some copy equals the stored row. */
  matched: boolean;
  /** Every copy is a recorded reject. */
  allRejected: boolean;
  /** The last copy's differences. */
  differences: ValueDifference[];
}

const SEEN = 'verify_mongo_seen';
const CREATE_SEEN = `
CREATE TEMP TABLE ${SEEN} (mongo_id text, mongo_id_type text, ord bigint NOT NULL, present boolean NOT NULL,
  matched boolean NOT NULL, all_rejected boolean NOT NULL, differences jsonb NOT NULL, PRIMARY KEY (mongo_id, mongo_id_type))
  ON COMMIT DROP;
CREATE INDEX ON ${SEEN} (ord)`;

/** A document that cannot be mapped has no key: it is kept under its position, a type no row has. */
const UNMAPPED = '(unmapped)';

async function compareCollection(
  client: pg.ClientBase,
  collection: CollectionKind,
  source: ImportSource,
  batchSize: number,
  shownDifferences: number,
): Promise<{
  sourceCount: number;
  target: number;
  rejected: number;
  differences: ValueDifference[];
  differenceTotal: number;
}> {
  const check = rowChecks[collection];
  await client.query(CREATE_SEEN);
  let sourceCount = 0;
  let rejected = 0;
  // Read and mapped as the import reads and maps them (files: in its parse worker), the next
  // batch while PostgreSQL compares this one.
  const batches =
    source.batches?.(source.initial, collection, batchSize) ??
    mapInProcess(source.records(source.initial), collection, importTargets[collection].map, batchSize);
  for await (const mapped of readAhead(batches)) {
    // Source order, except that within a batch the documents that cannot be mapped come last.
    const positions = [...mapped.items, ...mapped.rejects].map((r) => r.position);
    const order = new Map(positions.map((position, n) => [position, sourceCount + n]));
    const recorded = await recordedRejects(client, collection, source.ref, positions);
    const outcomes = new Map<string, KeyOutcome>();
    const add = (outcome: KeyOutcome) => {
      const id = `${outcome.key.type}:${outcome.key.text}`;
      const earlier = outcomes.get(id);
      outcomes.set(id, earlier === undefined ? outcome : mergeOutcomes(earlier, outcome));
    };
    for (const reject of mapped.rejects) {
      const ord = order.get(reject.position)!;
      if (recorded.has(reject.position)) rejected += 1;
      else
        add({
          key: { text: reject.position, type: UNMAPPED },
          ord,
          present: false,
          matched: false,
          allRejected: false,
          differences: [
            {
              table: check.table,
              key: reject.position,
              column: '(row)',
              source: `cannot be imported and is not in rejects: ${reject.reason}`,
              stored: null,
            },
          ],
        });
    }
    const stored =
      mapped.items.length === 0
        ? []
        : await check.lookup(
            client,
            mapped.items.map((i) => i.row),
          );
    mapped.items.forEach((item, n) => {
      const isRejected = recorded.has(item.position);
      if (isRejected) rejected += 1;
      const id = check.id(item.row);
      add({
        key: id,
        ord: order.get(item.position)!,
        ...compareRow(check, item.row, stored[n]!, `_id=${showId(id)}`, isRejected, item.position),
      });
    });
    await saveOutcomes(client, [...outcomes.values()]);
    sourceCount += mapped.read;
  }
  await client.query(`ANALYZE ${SEEN}`);
  const log = new DifferenceLog(shownDifferences);
  await reportKeys(client, log);
  await reportUnnamedRows(client, check.table, log);
  const target = Number(
    (await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${check.table}`)).rows[0]?.n ?? 0,
  );
  return { sourceCount, target, rejected, differences: log.first, differenceTotal: log.total };
}

/** One copy of a document against the stored row of its key. */
function compareRow<Row>(
  check: RowCheck<Row>,
  row: Row,
  stored: StoredRow,
  key: string,
  isRejected: boolean,
  position: string,
): Omit<KeyOutcome, 'key' | 'ord'> {
  if (stored.row_id === null || stored.row_id === undefined) {
    const differences = isRejected
      ? []
      : [{ table: check.table, key, column: '(row)', source: `document at ${position}`, stored: null }];
    return { present: false, matched: false, allRejected: isRejected, differences };
  }
  const differences: ValueDifference[] = [];
  for (const column of check.columns) {
    const expected = column.expected(row, stored);
    if (expected === undefined) continue;
    const sourceValue = canonicalValue(column.kind, expected);
    const storedValue = canonicalValue(column.kind, stored[column.name] ?? null);
    if (sourceValue !== storedValue)
      differences.push({ table: check.table, key, column: column.name, source: sourceValue, stored: storedValue });
  }
  return { present: true, matched: differences.length === 0, allRejected: isRejected, differences };
}

function mergeOutcomes(earlier: KeyOutcome, later: KeyOutcome): KeyOutcome {
  return {
    key: earlier.key,
    ord: earlier.ord,
    present: later.present,
    matched: earlier.matched || later.matched,
    allRejected: earlier.allRejected && later.allRejected,
    differences: later.differences,
  };
}

async function saveOutcomes(client: pg.ClientBase, outcomes: readonly KeyOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await client.query(
    `INSERT INTO ${SEEN} AS s (mongo_id, mongo_id_type, ord, present, matched, all_rejected, differences)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::boolean[], $6::boolean[], $7::jsonb[])
     ON CONFLICT (mongo_id, mongo_id_type) DO UPDATE SET present = EXCLUDED.present,
       matched = s.matched OR EXCLUDED.matched, all_rejected = s.all_rejected AND EXCLUDED.all_rejected,
       differences = EXCLUDED.differences`,
    [
      outcomes.map((o) => o.key.text),
      outcomes.map((o) => o.key.type),
      outcomes.map((o) => o.ord),
      outcomes.map((o) => o.present),
      outcomes.map((o) => o.matched),
      outcomes.map((o) => o.allRejected),
      outcomes.map((o) => JSON.stringify(o.differences)),
    ],
  );
}

const PAGE = 1000;

/** The keys whose outcome is a difference, in source order: a present row no copy equals, or a missing one not every copy excuses. */
async function reportKeys(client: pg.ClientBase, log: DifferenceLog): Promise<void> {
  for (let after = -1; ;) {
    const { rows } = await client.query<{ ord: string; differences: ValueDifference[] }>(
      `SELECT ord, differences FROM ${SEEN}
       WHERE ord > $1 AND CASE WHEN present THEN NOT matched ELSE NOT all_rejected END
       ORDER BY ord LIMIT ${PAGE}`,
      [after],
    );
    for (const row of rows) for (const difference of row.differences) log.add(difference);
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1]!.ord);
  }
}

/** Rows of the table that no document of the source named, in key order, a page at a time. */
async function reportUnnamedRows(client: pg.ClientBase, table: string, log: DifferenceLog): Promise<void> {
  let after: (string | null)[] = [null, null];
  for (;;) {
    const { rows } = await client.query<{ mongo_id: string; mongo_id_type: MongoIdType; row_id: string }>(
      `SELECT t.mongo_id, t.mongo_id_type, t.id::text AS row_id FROM ${table} t
       WHERE ($1::text IS NULL OR (t.mongo_id, t.mongo_id_type) > ($1, $2))
         AND NOT EXISTS (SELECT 1 FROM ${SEEN} s WHERE s.mongo_id = t.mongo_id AND s.mongo_id_type = t.mongo_id_type)
       ORDER BY t.mongo_id, t.mongo_id_type LIMIT ${PAGE}`,
      after,
    );
    for (const row of rows) {
      const key = showId({ text: row.mongo_id, type: row.mongo_id_type });
      log.add({ table, key: `_id=${key}`, column: '(row)', source: null, stored: `id=${row.row_id}` });
    }
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1]!;
    after = [last.mongo_id, last.mongo_id_type];
  }
}

/** Positions of this batch that a recorded reject of this source names. */
async function recordedRejects(
  client: pg.ClientBase,
  collection: CollectionKind,
  ref: string,
  positions: readonly string[],
): Promise<Set<string>> {
  const { rows } = await client.query<{ position: string }>(
    `SELECT DISTINCT position FROM rejects
     WHERE source = ANY($1::text[]) AND collection = $2 AND source_ref = $3 AND position = ANY($4::text[])`,
    [REJECTING_JOBS, collection, ref, positions],
  );
  return new Set(rows.map((r) => r.position));
}

/** One item read ahead: the next batch is read and mapped while PostgreSQL compares this one. */
async function* readAhead<T>(items: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = items[Symbol.asyncIterator]();
  try {
    let next = iterator.next();
    for (;;) {
      const current = await next;
      if (current.done === true) return;
      next = iterator.next();
      next.catch(() => undefined); // awaited on the next turn; not an unhandled rejection meanwhile
      yield current.value;
    }
  } finally {
    await iterator.return?.();
  }
}
