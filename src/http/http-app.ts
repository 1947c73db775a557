import express, { type Express } from 'express';
import type { Config } from '../config.js';
import type { Queues } from '../queues/queues.js';
import { basicAuth } from './basic-auth.js';
import { BOARD_PATH, boardRouter } from './board.js';
import { checkHealth, type HealthDependencies } from './health.js';

export interface HttpAppOptions {
  config: Config;
  queues: Queues;
  health: HealthDependencies;
}

/** Refuses to serve the board without credentials, unless auth is switched off on purpose. */
export function boardCredentials(config: Config): { user: string; password: string } | undefined {
  if (!config.BOARD_AUTH) return undefined;
  if (config.BOARD_USER === undefined || config.BOARD_PASSWORD === undefined) {
    throw new Error('The board needs BOARD_USER and BOARD_PASSWORD; set BOARD_AUTH=false to run it without login (local use only)');
  }
  return { user: config.BOARD_USER, password: config.BOARD_PASSWORD };
}

/** Bull Board at /admin/queues (behind auth) and an unauthenticated /health for probes. */
export function createHttpApp(options: HttpAppOptions): Express {
  const credentials = boardCredentials(options.config);
  const app = express();
  app.disable('x-powered-by');

  app.get('/health', async (_req, res) => {
    const report = await checkHealth(options.health);
    res.status(report.status === 'down' ? 503 : 200).json(report);
  });

  if (credentials) app.use(BOARD_PATH, basicAuth(credentials.user, credentials.password));
  app.use(BOARD_PATH, boardRouter(options.queues));
  app.get('/', (_req, res) => res.redirect(BOARD_PATH));
  return app;
}
