import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';

/** What a login may do on the board: the admin changes jobs and queues, the viewer only looks. */
export type BoardRole = 'admin' | 'viewer';

export interface BoardLogin {
  user: string;
  password: string;
  role: BoardRole;
}

/** Methods a viewer may send: they read, never change. */
const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * HTTP Basic auth for the board, for each of its logins; the one that matched is left for
 * `boardRole(res)`. Both sides are hashed before the constant-time comparison, and every login is
 * compared, so neither the length nor the content of a password, nor which login matched, leaks
 * through timing.
 */
export function basicAuth(logins: readonly BoardLogin[], realm = 'ctp-etl'): RequestHandler {
  const expected = logins.map((login) => ({
    user: login.user,
    role: login.role,
    digest: digest(`${login.user}:${login.password}`),
  }));
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    // RFC 7617 (via RFC 7235): the scheme name is case-insensitive.
    const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
    const given = digest(match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '');
    let matched: { user: string; role: BoardRole } | undefined;
    for (const login of expected) {
      if (timingSafeEqual(given, login.digest) && match) matched ??= login;
    }
    if (matched !== undefined) {
      res.locals.boardRole = matched.role;
      res.locals.boardUser = matched.user;
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('Authentication required');
  };
}

/** The role of the login `basicAuth` accepted for this request; without login (BOARD_AUTH=false), the admin's. */
export function boardRole(res: Response): BoardRole {
  return res.locals.boardRole === 'viewer' ? 'viewer' : 'admin';
}

/**
 * Refuses, with 403, any request of the viewer login that could change something, whatever route
 * it names: Bull Board's read-only mode hides the buttons and guards the routes it knows, this
 * guards every other one (a route added later, a method Bull Board does not expect).
 */
export function refuseViewerWrites(): RequestHandler {
  return (req, res, next) => {
    if (boardRole(res) !== 'viewer' || READ_METHODS.has(req.method)) {
      next();
      return;
    }
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res
      .status(403)
      .type('text/plain')
      .send(`Forbidden: ${req.method} ${req.originalUrl}: the viewer login only reads the board`);
  };
}

/** The user name of the login `basicAuth` accepted; without login (BOARD_AUTH=false), none. */
export function boardUser(res: Response): string | undefined {
  return typeof res.locals.boardUser === 'string' ? res.locals.boardUser : undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
