import type { Config } from '../../src/config.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';
import { testConfig, uniqueName } from './test-config.js';
import { deletePrefix } from './test-redis.js';

export interface TestEnvironment {
  name: string;
  config: Config;
  db: TestDatabase;
  runtime: Runtime;
  /** Closes everything; drops the schema and queue keys unless `keep` (a failed test's data stays to look at). */
  cleanup(options?: { keep?: boolean }): Promise<void>;
}

/** One test file's isolated world: its own schema (migrated), queue prefix and runtime. */
export async function createTestEnvironment(
  label: string,
  overrides: Record<string, string | undefined> = {},
): Promise<TestEnvironment> {
  const name = uniqueName(label);
  const config = testConfig(name, overrides);
  const db = await createTestDatabase(config);
  const runtime = new Runtime(config);
  return {
    name,
    config,
    db,
    runtime,
    async cleanup(options = {}) {
      await runtime.close();
      if (options.keep) {
        await db.close();
        return;
      }
      await db.drop();
      await deletePrefix(config, config.QUEUE_PREFIX);
    },
  };
}
