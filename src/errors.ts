import { maskUrlCredentials } from './secrets.js';

/**
 * A failure that a retry cannot fix (bad payload, missing or corrupt file, unknown schema).
 * A plain marker of our own, so the domains know nothing of the queue: the worker turns it into
 * BullMQ's UnrecoverableError (src/workers/worker-pool.ts), which stops the retries.
 */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

/** Message of an unknown thrown value, for logs and wrapped errors; driver errors can quote connection strings, so URLs lose their user info. */
export function errorMessage(error: unknown): string {
  return maskUrlCredentials(error instanceof Error ? error.message : String(error));
}
