import { afterEach } from 'node:test';

/**
 * Call inside a describe(): remembers whether any test of it failed, so the suite's `after`
 * can keep the schema and queue keys to look at (cleanup({ keep: tracker.failed })).
 */
export function failureTracker(): { readonly failed: boolean } {
  const state = { failed: false };
  afterEach((t) => {
    // `passed` exists on Node 20.12+ though @types/node 20 does not declare it yet.
    if ((t as { passed?: boolean }).passed === false) state.failed = true;
  });
  return state;
}
