/**
 * The package's library entry, for the platform's API: the dual-write producer and what it
 * needs to open its queue.
 *
 *   const config = loadConfig();
 *   const runtime = new Runtime(config);
 *   // the queues' connection errors are counted and logged by the runtime; it closes them
 *   const queues = openQueues(runtime, runtime.redis('producer'), ['user-upsert'], 'user-upsert queue');
 *   await enqueueUserUpsert(userDocument, { queues });
 */
export { loadConfig, type Config } from './config.js';
export { Runtime } from './runtime/runtime.js';
export { createQueues, openQueues, closeQueues, type Queues } from './queues/queues.js';
export { enqueue } from './producers/enqueue.js';
export { enqueueUserUpsert, type UserUpsertOptions } from './producers/user-upsert.js';
export type { UserUpsertResult } from './users/upsert-user.js';
export type { JobName, PayloadOf } from './jobs/contracts.js';
export type { ResultOf } from './jobs/handlers.js';
