import type { Document } from 'bson';
import { mapSnapshot } from './map-snapshot.js';
import { mapUser } from './map-user.js';
import type { CollectionKind } from './targets.js';

/** Each collection's mapper, by name: what the parse worker, which cannot be handed functions, looks up. */
export const mappers: Record<CollectionKind, (doc: Document) => unknown> = {
  users: mapUser,
  portfoliosnapshots: mapSnapshot,
};
