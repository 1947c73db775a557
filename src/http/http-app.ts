import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Queues } from '../queues/queues.js';
import { basicAuth, boardRole, refuseViewerWrites, type BoardLogin } from './basic-auth.js';
import { BOARD_PATH, boardRouter } from './board.js';
import { BOTS_PATH, botsRouter } from './bots-page.js';
import { checkHealth, type HealthDependencies } from './health.js';
import { metricsHandler } from './metrics.js';
import { refuseCrossOriginWrites } from './same-origin.js';

export interface HttpAppOptions {
  config: Config;
  queues: Queues;
  health: HealthDependencies;
  metrics?: Registry;
}

export interface BoardCredentials {
  user: string;
  password: string;
  /** The read-only login (BOARD_VIEWER_USER / BOARD_VIEWER_PASSWORD), when one is set. */
  viewer?: { user: string; password: string };
}

/** Refuses to serve the board without credentials, unless auth is switched off on purpose. */
export function boardCredentials(config: Config): BoardCredentials | undefined {
  const viewerUser = config.BOARD_VIEWER_USER;
  const viewerPassword = config.BOARD_VIEWER_PASSWORD;
  if (!config.BOARD_AUTH) {
    if (viewerUser !== undefined || viewerPassword !== undefined) {
      throw new Error(
        'BOARD_VIEWER_USER/BOARD_VIEWER_PASSWORD are set but BOARD_AUTH=false: without login every visitor could change jobs; unset them or set BOARD_AUTH=true',
      );
    }
    return undefined;
  }
  if (config.BOARD_USER === undefined || config.BOARD_PASSWORD === undefined) {
    throw new Error(
      'The board needs BOARD_USER and BOARD_PASSWORD; set BOARD_AUTH=false to run it without login (local use only)',
    );
  }
  const admin = { user: config.BOARD_USER, password: config.BOARD_PASSWORD };
  if (viewerUser === undefined && viewerPassword === undefined) return admin;
  if (viewerUser === undefined || viewerPassword === undefined) {
    throw new Error(
      `The board's viewer login needs both BOARD_VIEWER_USER and BOARD_VIEWER_PASSWORD (${viewerUser === undefined ? 'BOARD_VIEWER_USER' : 'BOARD_VIEWER_PASSWORD'} is unset)`,
    );
  }
  if (viewerUser === admin.user) {
    throw new Error(
      `BOARD_VIEWER_USER "${viewerUser}" is BOARD_USER too: the viewer login needs a user name of its own`,
    );
  }
  return { ...admin, viewer: { user: viewerUser, password: viewerPassword } };
}

function boardLogins(credentials: BoardCredentials): BoardLogin[] {
  const admin: BoardLogin = { user: credentials.user, password: credentials.password, role: 'admin' };
  return credentials.viewer ? [admin, { ...credentials.viewer, role: 'viewer' }] : [admin];
}

/** Bull Board at /admin/queues and the bots page at /bots (behind auth, refusing state changes from other origins and from the viewer login); /health for probes and /metrics for Prometheus, unauthenticated like most scrape targets. */
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

  if (credentials) {
    const login = basicAuth(boardLogins(credentials));
    app.use(BOARD_PATH, login, refuseViewerWrites());
    // /bots, /bots.json and /bots/<bot>/...: the board's logins, the viewer's writes refused alike.
    app.use([BOTS_PATH, `${BOTS_PATH}.json`], login, refuseViewerWrites());
  }
  app.use(botsRouter({ pg: options.health.pg, queues: options.queues, config: options.config }));
  const adminBoard = boardRouter(options.queues);
  // Built only with a viewer login: the same queues, in Bull Board's read-only mode.
  const viewerBoard = credentials?.viewer ? boardRouter(options.queues, { readOnly: true }) : undefined;
  app.use(BOARD_PATH, (req, res, next) => {
    const board = viewerBoard && boardRole(res) === 'viewer' ? viewerBoard : adminBoard;
    board(req, res, next);
  });
  app.get('/', (_req, res) => res.redirect(BOARD_PATH));
  return app;
}
