import { createClient, type Client } from '@libsql/client';

/**
 * A libSQL client for a bot's Turso database (libsql://, https://) or a local file: URL.
 * intMode "bigint" keeps 64-bit integers exact both ways.
 */
export function createLibsqlClient(url: string, authToken?: string): Client {
  return createClient(authToken === undefined ? { url, intMode: 'bigint' } : { url, authToken, intMode: 'bigint' });
}
