import type { ImportCounts } from '../../src/import/import-counts.js';
import { createTestMongo, type TestMongo } from './test-mongo.js';
import { createTestEnvironment, type TestEnvironment } from './test-runtime.js';

export type { ImportResult } from '../../src/import/run-import.js';
export type { UserReconcileResult } from '../../src/import/reconcile-source.js';

/** The numbers `from` to `to`, both included: documents to make with userDoc and snapshotDoc. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** An import result's five counts alone, to compare in one assertion. */
export function importCounts(result: ImportCounts): ImportCounts {
  const { read, inserted, updated, unchanged, rejected } = result;
  return { read, inserted, updated, unchanged, rejected };
}

/** A test environment (schema, queue prefix) and a MongoDB database of its own, MONGO_URL set to it. */
export async function createMongoTestEnvironment(
  label: string,
  overrides: Record<string, string> = {},
): Promise<{ env: TestEnvironment; mongo: TestMongo }> {
  const mongo = await createTestMongo(label);
  const env = await createTestEnvironment(label, { MONGO_URL: mongo.url, ...overrides });
  return { env, mongo };
}
