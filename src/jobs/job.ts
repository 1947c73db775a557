import { z } from 'zod';
import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import type { MongoHandle } from '../connections/mongo.js';
import type { RunContext } from '../run-context.js';

/**
 * What a handler gets besides its payload: a run's context and what only a job has. Built in one
 * place (workers/job-context.ts for BullMQ, cli's `run` for in-process runs), so handlers never
 * see BullMQ.
 */
export interface JobContext extends RunContext {
  readonly config: Config;
  /** Connects to MONGO_URL on first use; throws a clear error when it is not set. */
  readonly mongo: () => Promise<MongoHandle>;
  /** 1 for the first run, 2 for the first retry, ... */
  readonly attempt: number;
  /**
   * True for `ctp-etl run` in the operator's own shell: payload paths may name any file. False in
   * a worker, whose payloads come from a queue: paths stay inside IMPORT_FILES_DIR / RESTORE_DIR.
   */
  readonly operatorShell: boolean;
}

/**
 * What producers know of a job type: its name, its payload schema (payloads are unknown until
 * validated: old jobs can carry old shapes) and a readable title for Bull Board. A contract
 * imports no handler code, so a producer (the package entry, the scheduler, `ctp-etl enqueue`)
 * never loads a handler's dependencies (native SQLite bindings, COPY streams, ...).
 */
export interface JobContract<Name extends string = string, Payload = unknown, Input = Payload> {
  readonly name: Name;
  readonly payload: z.ZodType<Payload, Input>;
  readonly title: (payload: Payload) => string;
  /**
   * Turns `ctp-etl run|enqueue <job> [options]` into payloads (one per bot for `--all`, ...).
   * Without it, the payload is `--json` (default `{}`).
   */
  readonly fromCli?: (options: CliJobOptions, env: CliEnv) => Promise<unknown[]>;
}

/** What a worker runs for a job type: `handle(payload, ctx)` for its contract's (validated) payload. */
export interface JobHandler<Name extends string = string, Payload = unknown, Result = unknown> {
  readonly contract: JobContract<Name, Payload, unknown>;
  readonly handle: (payload: Payload, ctx: JobContext) => Promise<Result>;
}

/** The options `run` and `enqueue` accept; each job reads the ones it understands. */
export interface CliJobOptions {
  bot?: string;
  all?: boolean;
  collection?: string;
  file?: string;
  json?: string;
  to?: string;
  /** Show what would change, write nothing (bot-sync, turso-push). */
  dryRun?: boolean;
  /** `--accept-reset` (true) or `--accept-reset=archive|delete` (bot-sync, turso-push). */
  acceptReset?: string | boolean;
  /** Compare every row with the target, whatever the recorded state says (turso-push). */
  fullCompare?: boolean;
}

export interface CliEnv {
  config: Config;
  pg: PgPool;
}

/**
 * A payload schema that still accepts jobs queued before a key was renamed (`{ old: 'new' }`):
 * an old key's value moves to its new key, unless the payload holds the new key too.
 */
export function withRenamedKeys<Schema extends z.ZodType>(renamed: Readonly<Record<string, string>>, schema: Schema) {
  return z.preprocess((payload: z.input<Schema>): unknown => {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return payload;
    const entries = Object.entries(payload as Record<string, unknown>);
    const keys = new Set(entries.map(([key]) => key));
    return Object.fromEntries(
      entries.flatMap(([key, value]) => {
        const now = Object.hasOwn(renamed, key) ? renamed[key] : undefined;
        if (now === undefined) return [[key, value]];
        return keys.has(now) ? [] : [[now, value]];
      }),
    );
  }, schema);
}

export function defineContract<const Name extends string, Payload, Input>(
  contract: JobContract<Name, Payload, Input>,
): JobContract<Name, Payload, Input> {
  return contract;
}

export function defineHandler<Name extends string, Payload, Result>(
  handler: JobHandler<Name, Payload, Result>,
): JobHandler<Name, Payload, Result> {
  return handler;
}
