import type { Config } from '../config.js';
import type { PgPool } from '../connections/postgres.js';
import { enqueue } from './enqueue.js';
import { routeJob } from '../queues/host-routing.js';
import type { Queues } from '../queues/queues.js';
import type { AcceptReset } from '../bots/reset-guard.js';

export interface ResetAcceptance {
  bot: string;
  kept: AcceptReset;
  queue: string;
  jobId: string;
}

/** Why a reset acceptance is refused before anything is enqueued: the user's mistake, said plainly (HTTP 400/404/409). */
export class ResetAcceptanceRefused extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409,
  ) {
    super(message);
    this.name = 'ResetAcceptanceRefused';
  }
}

/**
 * An operator accepts a bot's refused reset from the board: a bot-sync job with acceptReset,
 * routed to the queue of the host that holds the bot's file (only there can it be read), and a
 * record of who accepted it, when and how. Only a bot whose bot-sync is held for a reset may be
 * accepted, and only when `confirmation` repeats the bot's name.
 */
export async function acceptResetFromBoard(
  deps: { pg: PgPool; queues: Queues; config: Pick<Config, 'BOT_DISCOVERY' | 'DISCOVERY_INTERVAL'> },
  request: { bot: string; kept: AcceptReset; confirmation: string; acceptedBy: string },
): Promise<ResetAcceptance> {
  const { pg, queues, config } = deps;
  const { bot, kept } = request;
  if (request.confirmation !== bot) {
    throw new ResetAcceptanceRefused(
      `the confirmation "${request.confirmation}" is not the bot's name "${bot}": type the bot's name to accept its reset`,
      400,
    );
  }
  const { rows } = await pg.query<{ reason: string }>(
    "SELECT reason FROM bot_holds WHERE instance_id = $1 AND job = 'bot-sync'",
    [bot],
  );
  if (rows[0] === undefined) throw new ResetAcceptanceRefused(`bot ${bot} has no held sync to accept`, 404);
  if (rows[0].reason !== 'reset') {
    throw new ResetAcceptanceRefused(
      `bot ${bot} is held for ${rows[0].reason}, not a reset: accepting a reset cannot clear it`,
      409,
    );
  }
  const payload = { bot, acceptReset: kept };
  // A bot two hosts claim, or no host holds: no queue can run it; say which, enqueue nothing.
  const queue = await routeJob(config, pg, 'bot-sync', payload).catch((error: unknown) => {
    throw new ResetAcceptanceRefused(error instanceof Error ? error.message : String(error), 409);
  });
  const job = await enqueue(queues, 'bot-sync', payload, {}, queue);
  const jobId = job.id ?? '';
  await pg.query(
    'INSERT INTO bot_reset_acceptances (instance_id, kept, accepted_by, queue, job_id) VALUES ($1, $2, $3, $4, $5)',
    [bot, kept, request.acceptedBy, queue, jobId],
  );
  return { bot, kept, queue, jobId };
}
