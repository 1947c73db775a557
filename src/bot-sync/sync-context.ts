import type { Config } from '../config.js';
import type { RunContext } from '../run-context.js';

/** A bot-sync run's context: the run's, and the settings bot-sync reads. */
export interface BotSyncContext extends RunContext {
  readonly config: Pick<
    Config,
    | 'BOT_INSTANCES_DIR'
    | 'BOT_DB_FILENAMES'
    | 'SQLITE_BUSY_TIMEOUT'
    | 'SQLITE_HANDLE_CACHE'
    | 'SQLITE_HANDLE_IDLE'
    | 'SYNC_BATCH_SIZE'
    | 'SYNC_LOCK_TIMEOUT'
    | 'SYNC_WINDOW_MARGIN'
    | 'SYNC_DATE_SCAN_ROWS'
    | 'SYNC_DATE_SCAN_INTERVAL'
    | 'FULL_COMPARE_INTERVAL'
    | 'DELETE_GUARD_RATIO'
  >;
}
