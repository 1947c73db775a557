import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';

/** Methods that change nothing; every other one (POST, PUT, PATCH, DELETE...) is judged. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses, with 403, a state-changing request a browser sends on behalf of another origin: a page
 * the operator visits could otherwise submit a form or a no-cors fetch to the board, and the
 * browser would add the operator's cached Basic credentials (cross-site request forgery). The
 * board's own UI calls its API from the same origin, so it passes. A request with neither header
 * comes from no browser (curl, the CLI, a script): it has to bring the credentials itself, so it
 * passes too; a browser always sends Origin on a POST, PUT, PATCH or DELETE.
 */
export function refuseCrossOriginWrites(): RequestHandler {
  return (req, res, next) => {
    const refusal = SAFE_METHODS.has(req.method) ? undefined : crossOriginRefusal(req.headers);
    if (refusal === undefined) {
      next();
      return;
    }
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.status(403).type('text/plain').send(`Forbidden: ${req.method} ${req.originalUrl} ${refusal}`);
  };
}

/** Why the request comes from another origin than the server's own, or undefined when it does not. */
export function crossOriginRefusal(headers: IncomingHttpHeaders): string | undefined {
  // The browser's own verdict (Chromium 76+, Firefox 90+, Safari 16.4+); it sees the origins as the
  // operator does, so it holds behind a proxy that rewrites Host. "none": typed or bookmarked by the user.
  const site = single(headers['sec-fetch-site']);
  if (site !== undefined) {
    return site === 'same-origin' || site === 'none'
      ? undefined
      : `comes from another origin (Sec-Fetch-Site: ${site}); only the board's own pages may change anything`;
  }
  const origin = single(headers.origin);
  if (origin === undefined) return undefined;
  const originHost = hostOf(origin);
  // X-Forwarded-Host: a proxy's record of the Host the browser sent. A page cannot set it on a
  // request to another origin (a custom header needs a CORS preflight, which the board never grants).
  const ownHosts = [single(headers.host), single(headers['x-forwarded-host'])?.split(',')[0]?.trim()]
    .filter((host): host is string => host !== undefined && host !== '')
    .map((host) => hostOf(`http://${host}`));
  if (originHost !== undefined && ownHosts.includes(originHost)) return undefined;
  return `comes from another origin (Origin: ${origin}, not this server's ${single(headers.host) ?? 'unknown host'}); only the board's own pages may change anything`;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** host:port of an origin or URL (the default port left out, as Host has it); undefined for "null" or garbage. */
function hostOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.host === '' ? undefined : parsed.host;
  } catch {
    return undefined;
  }
}
