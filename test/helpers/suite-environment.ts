import { after, before } from 'node:test';
import type { Config } from '../../src/config.js';
import type { JobName } from '../../src/jobs/contracts.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { failureTracker } from './failure-tracker.js';
import { startQueueHarness, type QueueHarness } from './queue-harness.js';
import type { TestDatabase } from './test-database.js';
import { createTestEnvironment, type TestEnvironment } from './test-runtime.js';

export interface SuiteEnvironment {
  readonly name: string;
  readonly config: Config;
  readonly db: TestDatabase;
  readonly runtime: Runtime;
  /** Whether a test of the suite failed: its schema, queue keys and folder are then kept to look at. */
  readonly failed: boolean;
  /** Registers what the suite started on the environment, closed (last first) before the environment. */
  closeFirst(close: () => Promise<void> | void): void;
  /** A queue harness on the environment (startQueueHarness), stopped before the environment. */
  startQueueHarness(queue: JobName, options?: Parameters<typeof startQueueHarness>[2]): Promise<QueueHarness>;
}

/**
 * Call inside a describe(): the suite's own environment (schema, queue prefix, runtime), made
 * before its tests and cleaned up after them, kept when a test failed. `dir`: the suite's
 * temporary folder, removed with the environment when every test passed. The environment's
 * fields are read once the suite's `before` ran, as tests and later hooks do.
 */
export function suiteEnvironment(
  label: string,
  overrides: Record<string, string | undefined> = {},
  options: { dir?: { remove: () => void } } = {},
): SuiteEnvironment {
  const tracker = failureTracker();
  const closers: Array<() => Promise<void> | void> = [];
  let env: TestEnvironment | undefined;
  const made = (): TestEnvironment => {
    if (!env) throw new Error(`the test environment of ${label} is read before its suite's before hook ran`);
    return env;
  };

  before(async () => {
    env = await createTestEnvironment(label, overrides);
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
    await env?.cleanup({ keep: tracker.failed });
    if (!tracker.failed) options.dir?.remove();
  });

  return {
    get name() {
      return made().name;
    },
    get config() {
      return made().config;
    },
    get db() {
      return made().db;
    },
    get runtime() {
      return made().runtime;
    },
    get failed() {
      return tracker.failed;
    },
    closeFirst(close) {
      closers.push(close);
    },
    async startQueueHarness(queue, harnessOptions) {
      const harness = await startQueueHarness(made().runtime, queue, harnessOptions);
      closers.push(() => harness.stop());
      return harness;
    },
  };
}
