import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Queues } from '../queues/queues.js';
import { basicAuth } from './basic-auth.js';
import { BOARD_PATH, boardRouter } from './board.js';
import { checkHealth, type HealthDependencies } from './health.js';
import { metricsHandler } from './metrics.js';
import { refuseCrossOriginWrites } from './same-origin.js';

export interface HttpAppOptions {
  config: Config;
  queues: Queues;
  health: HealthDependencies;
  metrics?: Registry;
}

/** Refuses to serve the board without credentials, unless auth is switched off on purpose. */
export function boardCredentials(config: Config): { user: string; password: string } | undefined {
  if (!config.BOARD_AUTH) return undefined;
  if (config.BOARD_USER === undefined || config.BOARD_PASSWORD === undefined) {
    throw new Error(
      'The board needs BOARD_USER and BOARD_PASSWORD; set BOARD_AUTH=false to run it without login (local use only)',
    );
  }
  return { user: config.BOARD_USER, password: config.BOARD_PASSWORD };
}

/** Bull Board at /admin/queues (behind auth, refusing state changes from other origins); /health for probes and /metrics for Prometheus, unauthenticated like most scrape targets. */
export function createHttpApp(options: HttpAppOptions): Express {
  const credentials = boardCredentials(options.config);
  const app = express();
  app.disable('x-powered-by');
  // Before everything (the board, its login, any page added later): no other origin changes anything.
  app.use(refuseCrossOriginWrites());

  app.get('/health', async (_req, res) => {
    const report = await checkHealth(options.health);
    res.status(report.status === 'down' ? 503 : 200).json(report);
  });

  if (options.metrics) app.get('/metrics', metricsHandler(options.metrics));

  if (credentials) app.use(BOARD_PATH, basicAuth(credentials.user, credentials.password));
  app.use(BOARD_PATH, boardRouter(options.queues));
  app.get('/', (_req, res) => res.redirect(BOARD_PATH));
  return app;
}
