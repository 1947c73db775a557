import { UnrecoverableError } from 'bullmq';
import { maskUrlCredentials } from './secrets.js';

/**
 * A failure that a retry cannot fix (bad payload, missing or corrupt file, unknown schema).
 * Extends BullMQ's UnrecoverableError so the worker stops retrying; outside BullMQ it is a plain Error.
 */
export class PermanentJobError extends UnrecoverableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = 'PermanentJobError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Message of an unknown thrown value, for logs and wrapped errors; driver errors can quote connection strings, so URLs lose their user info. */
export function errorMessage(error: unknown): string {
  return maskUrlCredentials(error instanceof Error ? error.message : String(error));
}
