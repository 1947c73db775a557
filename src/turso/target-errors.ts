import { LibsqlError } from '@libsql/client';
import { PermanentJobError, errorMessage } from '../errors.js';

/** A target URL fit for logs, results and metadata: no query string (authToken=...), no user info. */
export function displayTarget(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'file:') return `file:${decodeURIComponent(parsed.pathname)}`;
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return url.replace(/[?#].*$/, '').replace(/\/\/[^@/]*@/, '//');
  }
}

/** Removes every trace of the token (and of any authToken in a URL) from a text. */
export function redactToken(text: string, token: string | undefined): string {
  let clean = text.replace(/(authToken=)[^&\s"']+/gi, '$1***');
  if (token !== undefined && token.length > 0) clean = clean.split(token).join('***');
  return clean.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1***');
}

const PERMANENT_CODES = new Set([
  'URL_INVALID',
  'URL_SCHEME_NOT_SUPPORTED',
  'URL_PARAM_NOT_SUPPORTED',
  'SQLITE_CANTOPEN',
  'SQLITE_NOTADB',
  'SQLITE_AUTH',
]);

/**
 * The message with the reasons under it: fetch says only "fetch failed", its cause says
 * "connect ECONNREFUSED 127.0.0.1:8080" (an AggregateError of each address tried carries only codes).
 */
function reasonChain(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = error; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const message = errorMessage(e);
    const code = (e as { code?: unknown }).code;
    const text = message !== '' ? message : typeof code === 'string' ? code : '';
    if (text !== '' && !parts.some((part) => part.includes(text))) parts.push(text);
    if (e instanceof AggregateError)
      for (const inner of e.errors) {
        const innerText = errorMessage(inner);
        if (innerText !== '' && !parts.includes(innerText)) parts.push(innerText);
      }
    if (!(e instanceof Error)) break;
  }
  return parts.join(': ');
}

function httpStatus(error: unknown): number | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const status = (e as { status?: unknown }).status;
    if (typeof status === 'number') return status;
  }
  return undefined;
}

/**
 * The error a push or restore reports when its target fails: it names the bot, its
 * sync-config.json and the target, never carries the token, and is permanent when retrying the
 * same configuration cannot help (a malformed URL, a refused token).
 */
export function targetError(
  error: unknown,
  where: { instance: string; configFile: string; url: string; token: string | undefined; action: string },
): Error {
  if (error instanceof PermanentJobError && /^bot /.test(error.message)) return error;
  const status = httpStatus(error);
  const code = error instanceof LibsqlError ? error.code : undefined;
  const detail = redactToken(reasonChain(error), where.token);
  const message = redactToken(
    `bot ${where.instance}: ${where.action} ${displayTarget(where.url)} (from ${where.configFile}) failed: ${detail}` +
      (status === 401 || status === 403 ? ' (the tursoToken was refused: check it)' : ''),
    where.token,
  );
  // No `cause`: the client's own error objects may carry request details; the message says what failed.
  if ((code !== undefined && PERMANENT_CODES.has(code)) || status === 401 || status === 403)
    return new PermanentJobError(message);
  return new Error(message);
}
