import { botDatabases } from '../../src/bot-sync/bot-database-cache.js';

/** What a run did with this process's kept bot databases: files opened and handles reused. */
export async function countedHandleUse<T>(
  run: () => Promise<T>,
): Promise<{ result: T; opens: number; reuses: number }> {
  const before = { ...botDatabases.stats };
  const result = await run();
  return {
    result,
    opens: botDatabases.stats.opens - before.opens,
    reuses: botDatabases.stats.reuses - before.reuses,
  };
}
