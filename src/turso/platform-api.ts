import { PermanentJobError } from '../errors.js';
import { redactToken } from './target.js';

/** The few Turso Platform API calls provisioning needs (documented at docs.turso.tech/api-reference). */
interface PlatformApi {
  baseUrl: string;
  org: string;
  token: string;
  signal?: AbortSignal;
}

class PlatformApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'PlatformApiError';
  }
}

async function call(
  api: PlatformApi,
  method: 'GET' | 'POST',
  pathname: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const url = new URL(pathname, api.baseUrl);
  const where = `${method} ${url.origin}${url.pathname}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${api.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      signal: api.signal ?? null,
    });
  } catch (error) {
    throw new PlatformApiError(redactToken(`${where} failed: ${(error as Error).message}`, api.token), undefined);
  }
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    // an error page: reported through its text below
  }
  if (response.status >= 400 && response.status !== 409) {
    const detail = redactToken(text.slice(0, 300), api.token);
    const message = `${where} answered HTTP ${response.status}: ${detail}`;
    // A refused token or a bad request does not get better by retrying; a 5xx or 429 may.
    if (response.status < 500 && response.status !== 429) throw new PermanentJobError(message);
    throw new PlatformApiError(message, response.status);
  }
  return { status: response.status, json };
}

function hostnameOf(json: unknown): string | undefined {
  const database = (json as { database?: { Hostname?: unknown } } | undefined)?.database;
  return typeof database?.Hostname === 'string' ? database.Hostname : undefined;
}

const path = (api: PlatformApi, ...parts: string[]) =>
  `/v1/organizations/${encodeURIComponent(api.org)}/databases${parts.map((p) => `/${encodeURIComponent(p)}`).join('')}`;

/** Creates the database in the group (or finds it when it already exists: 409); returns its hostname and whether it was created. */
export async function ensureDatabase(
  api: PlatformApi,
  name: string,
  group: string,
): Promise<{ hostname: string; created: boolean }> {
  const created = await call(api, 'POST', path(api), { name, group });
  if (created.status !== 409) {
    const hostname = hostnameOf(created.json);
    if (hostname === undefined)
      throw new PlatformApiError(`POST ${path(api)} answered without database.Hostname`, created.status);
    return { hostname, created: true };
  }
  const existing = await call(api, 'GET', path(api, name));
  const hostname = hostnameOf(existing.json);
  if (hostname === undefined)
    throw new PlatformApiError(`GET ${path(api, name)} answered without database.Hostname`, existing.status);
  return { hostname, created: false };
}

/** A full-access, non-expiring database token (the push writes; the restore reads). */
export async function createDatabaseToken(api: PlatformApi, name: string): Promise<string> {
  const { json, status } = await call(
    api,
    'POST',
    `${path(api, name, 'auth', 'tokens')}?expiration=never&authorization=full-access`,
  );
  const jwt = (json as { jwt?: unknown } | undefined)?.jwt;
  if (typeof jwt !== 'string' || jwt === '')
    throw new PlatformApiError(`POST ${path(api, name, 'auth', 'tokens')} answered without a jwt`, status);
  return jwt;
}
