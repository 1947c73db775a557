import type { Document } from 'bson';
import type { Upsert } from '../write-batch.js';
import { mapSnapshot, type SnapshotRow } from '../snapshots/map-snapshot.js';
import { mapUser, type UserRow } from '../users/map-user.js';
import { upsertSnapshots } from '../snapshots/upsert-snapshots.js';
import { upsertUsers } from '../users/upsert-users.js';

export type CollectionKind = 'users' | 'portfoliosnapshots';

/** How documents of one collection become rows: the mapper and the batch upsert. */
export interface ImportTarget<Row> {
  readonly collection: CollectionKind;
  readonly map: (doc: Document) => Row;
  readonly upsert: Upsert<Row>;
}

export const usersTarget: ImportTarget<UserRow> = { collection: 'users', map: mapUser, upsert: upsertUsers };
const snapshotsTarget: ImportTarget<SnapshotRow> = {
  collection: 'portfoliosnapshots',
  map: mapSnapshot,
  upsert: upsertSnapshots,
};

/**
 * The one registry of collections, by name: the importer takes a target from it, and the parse
 * worker (which cannot be handed functions) looks its mapper up by the collection's name.
 */
export const importTargets: { readonly [K in CollectionKind]: ImportTarget<unknown> } = {
  users: usersTarget as ImportTarget<unknown>,
  portfoliosnapshots: snapshotsTarget as ImportTarget<unknown>,
};
