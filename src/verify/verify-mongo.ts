import type { Config } from '../config.js';
import type { MongoHandle } from '../connections/mongo.js';
import type { PgPool } from '../connections/postgres.js';
import { errorMessage } from '../errors.js';
import { openFileSource } from '../import/file-source.js';
import type { CollectionKind } from '../import/targets.js';

export interface CollectionCheck {
  collection: CollectionKind;
  /** The export file's path, or mongodb:<db>.<collection>: the same text imports record in rejects. */
  source: string;
  sourceCount?: number;
  /** Rows in PostgreSQL. */
  target?: number;
  /** Documents of this source recorded in rejects (they are expected to be missing). */
  rejected?: number;
  ok: boolean;
  error?: string;
}

const TABLES: Record<CollectionKind, string> = { users: 'users', portfoliosnapshots: 'portfolio_snapshots' };

/**
 * One Mongo collection against PostgreSQL: documents in the source (live, or an export file)
 * must equal rows in PostgreSQL plus the documents recorded as rejects of that source.
 */
export async function verifyCollection(
  config: Config,
  pg: PgPool,
  collection: CollectionKind,
  source: { file: string } | { mongo: () => Promise<MongoHandle> },
): Promise<CollectionCheck> {
  let ref = 'file' in source ? source.file : 'mongodb';
  try {
    let sourceCount = 0;
    if ('file' in source) {
      const file = await openFileSource(collection, source.file, config.IMPORT_MAX_DOCUMENT_BYTES);
      ref = file.ref;
      for await (const record of file.records(file.initial)) if (record) sourceCount += 1;
    } else {
      const { db } = await source.mongo();
      const name = collection === 'users' ? config.MONGO_USERS_COLLECTION : config.MONGO_SNAPSHOTS_COLLECTION;
      ref = `mongodb:${db.databaseName}.${name}`;
      sourceCount = await db.collection(name).countDocuments();
    }
    const target = Number(
      (await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLES[collection]}`)).rows[0]?.n ?? 0,
    );
    const rejected = Number(
      (
        await pg.query<{ n: string }>(
          `SELECT count(DISTINCT position) AS n FROM rejects WHERE source = 'mongo-import' AND collection = $1 AND source_ref = $2`,
          [collection, ref],
        )
      ).rows[0]?.n ?? 0,
    );
    return { collection, source: ref, sourceCount, target, rejected, ok: sourceCount === target + rejected };
  } catch (error) {
    return { collection, source: ref, ok: false, error: errorMessage(error) };
  }
}
