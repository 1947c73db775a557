import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * HTTP Basic auth for the board. Both sides are hashed before the constant-time comparison,
 * so neither the length nor the content of the password leaks through timing.
 */
export function basicAuth(user: string, password: string, realm = 'ctp-etl'): RequestHandler {
  const expected = digest(`${user}:${password}`);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    // RFC 7617 (via RFC 7235): the scheme name is case-insensitive.
    const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
    const given = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    if (match && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    res.status(401).type('text/plain').send('Authentication required');
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
