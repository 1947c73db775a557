import { createHash } from 'node:crypto';
import type { Job, JobsOptions } from 'bullmq';
import type { Document } from 'bson';
import { dateText, mongoId } from '../mongo-values/bson-values.js';
import { canonicalEjson } from '../mongo-values/ejson.js';
import type { Queues } from '../queues/queues.js';
import { enqueue } from './enqueue.js';

export interface UserUpsertOptions {
  /** Queues of this process (createQueues), holding `user-upsert`. */
  queues: Queues;
  /** Overrides of the queue's defaults (attempts, backoff, ...). */
  jobOptions?: JobsOptions;
}

/**
 * The platform API's half of the dual-write: call it after writing a user to MongoDB. It puts a
 * retrying `user-upsert` job on its queue (the write reaches PostgreSQL even if PostgreSQL is
 * down right now). The job id is the user's _id and updatedAt (or, without updatedAt, a hash of
 * the document), so calling it twice for the same write enqueues one job.
 * Throws when Redis cannot take the job: the caller learns the write was not queued.
 */
export async function enqueueUserUpsert(user: Document, options: UserUpsertOptions): Promise<Job> {
  const id = mongoId('_id', user._id);
  if (id === undefined) throw new Error('enqueueUserUpsert: the user document has no _id');
  const text = canonicalEjson(user);
  const payload = JSON.parse(text) as Record<string, unknown>;
  const updatedAt = dateText('updatedAt', user.updatedAt ?? user.updated_at);
  const version =
    updatedAt === undefined
      ? createHash('sha256').update(text).digest('hex').slice(0, 16)
      : String(Date.parse(updatedAt));
  // The _id's type is in the id (an ObjectId's bare hex, `string-3`, `number-3`): writes of
  // {"_id": 3} and {"_id": "3"} are two jobs, never one deduplicated. BullMQ job ids may not contain ':'.
  const idPart = id.type === 'objectId' ? id.text : `${id.type}-${id.text}`;
  const jobId = `user-upsert-${idPart.replaceAll(':', '_')}-${version}`;
  return enqueue(options.queues, 'user-upsert', payload, { ...options.jobOptions, jobId });
}
