import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { migrate } from '../../migrate/migrate.js';
import { Runtime } from '../../runtime/runtime.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply the PostgreSQL migrations (safe to run again)')
    .action(async () => {
      const runtime = new Runtime(loadConfig());
      try {
        const result = await migrate(runtime.pg, runtime.config.PG_SCHEMA);
        const applied = result.applied.length === 0 ? 'nothing to apply' : `applied ${result.applied.join(', ')}`;
        process.stdout.write(
          `migrate: ${applied} (${result.alreadyApplied} already applied) in schema ${runtime.config.PG_SCHEMA}\n`,
        );
      } finally {
        await runtime.close();
      }
    });
}
