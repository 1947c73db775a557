import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { errorMessage } from '../errors.js';
import { registerBoard } from './commands/board.js';
import { registerBots } from './commands/bots.js';
import { registerEnqueue } from './commands/enqueue.js';
import { registerMigrate } from './commands/migrate.js';
import { registerRun } from './commands/run.js';
import { registerScheduler } from './commands/scheduler.js';
import { registerStart } from './commands/start.js';
import { registerVerify } from './commands/verify.js';
import { registerWatch } from './commands/watch.js';
import { registerStatus } from './commands/status.js';
import { registerWorker } from './commands/worker.js';

const program = new Command('ctp-etl')
  .description('Job-queue ETL: FreqTrade SQLite -> PostgreSQL, MongoDB -> PostgreSQL, SQLite -> Turso, on BullMQ')
  .showHelpAfterError()
  .exitOverride();

registerMigrate(program);
registerStart(program);
registerScheduler(program);
registerWatch(program);
registerVerify(program);
registerWorker(program);
registerBoard(program);
registerRun(program);
registerEnqueue(program);
registerStatus(program);
registerBots(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  process.stderr.write(`ctp-etl: ${errorMessage(error)}\n`);
  process.exit(error instanceof ConfigError ? 78 : 1);
}
