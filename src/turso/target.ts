import { lstat, mkdir, realpath } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LibsqlError, type Client } from '@libsql/client';
import type { Config } from '../config.js';
import { createLibsqlClient } from '../connections/libsql.js';
import { errorMessage, PermanentJobError } from '../errors.js';
import { readSyncConfig, syncConfigPath, type SyncConfig } from '../bots/sync-config.js';

/**
 * A bot's libSQL target: where its sync-config.json may send the backup (location rules), whose
 * it is (the owner row), how its failures are reported (errors without the token), and opening it.
 */

/** The target's metadata table: the owning bot under key `instance`, the push generation (push-state.ts). */
export const TARGET_META_TABLE = '_ctp_etl_target';

export const createMetaTableSql = `CREATE TABLE IF NOT EXISTS ${TARGET_META_TABLE} (key TEXT PRIMARY KEY, value TEXT)`;

/** A bot's libSQL target as its sync-config.json describes it. The token stays in here. */
export interface BotTarget {
  instance: string;
  configFile: string;
  sync: SyncConfig;
  /** The URL fit for logs and results (a file target: its resolved path). */
  display: string;
  client: Client;
  /** Wraps a failure of the target into an error naming the bot and file, without the token. */
  fail: (error: unknown, action: string) => Error;
}

/**
 * Reads <instance>/sync-config.json (in the worker: jobs carry only the instance), checks the
 * target against the location rules and its owner (below), and
 * opens the client. `push` may create a new file target; `restore` only reads an existing one.
 */
export async function openBotTarget(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'TURSO_FILE_DIR'>,
  instance: string,
  mode: 'push' | 'restore' = 'push',
): Promise<BotTarget> {
  const configFile = syncConfigPath(config, instance);
  const sync = await readSyncConfig(config, instance);
  if (sync === undefined)
    throw new PermanentJobError(
      `bot ${instance}: no ${configFile}, so it has no Turso database to push to or restore from`,
    );
  const location = await resolveTargetLocation(config, { instance, configFile, url: sync.tursoUrl, mode });
  const display = location.kind === 'file' ? `file:${location.file}` : displayTarget(sync.tursoUrl);
  const where = { instance, configFile, url: display, token: sync.tursoToken };
  const fail = (error: unknown, action: string) => targetError(error, { ...where, action });
  let client: Client;
  try {
    client = createLibsqlClient(location.clientUrl, location.kind === 'file' ? undefined : sync.tursoToken);
  } catch (error) {
    throw fail(error, 'opening');
  }
  try {
    await claimTarget(
      client,
      instance,
      location,
      mode,
      (rule) => new TargetRefusedError(instance, configFile, display, rule),
    );
  } catch (error) {
    client.close();
    throw fail(error, 'checking the owner of');
  }
  return { instance, configFile, sync, display, client, fail };
}

/**
 * Where a bot's sync-config.json may send its backup. A bot's config is input that a bot's owner
 * writes, so it must never reach a file that is not a backup target: `file:` targets live only
 * under TURSO_FILE_DIR (real paths, symlinks followed), never inside BOT_INSTANCES_DIR;
 * remote targets are libsql: or https: (plain http: only to this machine).
 */
type TargetLocation =
  { kind: 'file'; file: string; exists: boolean; clientUrl: string } | { kind: 'remote'; clientUrl: string };

/** A target the rules refuse: permanent, names the bot, its sync-config.json, the target and the rule. */
class TargetRefusedError extends PermanentJobError {
  constructor(instance: string, configFile: string, target: string, rule: string) {
    super(`bot ${instance}: the Turso target ${target} (from ${configFile}) is refused: ${rule}`);
    this.name = 'TargetRefusedError';
  }
}

interface LocationRequest {
  instance: string;
  configFile: string;
  url: string;
  /** push may create a new file target; restore needs an existing one. */
  mode: 'push' | 'restore';
}

async function resolveTargetLocation(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'TURSO_FILE_DIR'>,
  request: LocationRequest,
): Promise<TargetLocation> {
  const refuse = (target: string, rule: string) =>
    new TargetRefusedError(request.instance, request.configFile, target, rule);
  if (/^file:/i.test(request.url)) return resolveFileTarget(config, request, refuse);
  return { kind: 'remote', clientUrl: checkRemoteUrl(request.url, refuse) };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (LOOPBACK_NAMES.has(host)) return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

type Refuse = (target: string, rule: string) => TargetRefusedError;

function checkRemoteUrl(url: string, refuse: Refuse): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse(JSON.stringify(url.replace(/[?#].*$/s, '')), 'not a valid URL');
  }
  const shown = `${parsed.protocol}//${parsed.host}`;
  const plain =
    parsed.protocol === 'http:' ||
    parsed.protocol === 'ws:' ||
    (parsed.protocol === 'libsql:' && parsed.searchParams.get('tls') === '0');
  if (!['libsql:', 'https:', 'http:'].includes(parsed.protocol))
    throw refuse(shown, 'a remote target must be a libsql:// or https:// URL (http:// only to this machine)');
  if (plain && !isLoopback(parsed.hostname))
    throw refuse(shown, 'an unencrypted target (http://, tls=0) is allowed only on this machine (loopback)');
  if (parsed.username !== '' || parsed.password !== '')
    throw refuse(shown, 'user info in the URL is not supported: put the token in tursoToken');
  return url;
}

/** The path a `file:` URL names, as libSQL reads it (relative, /absolute or ///absolute; percent-decoded). */
function filePathOf(url: string, refuse: Refuse): string {
  let rest = url.slice('file:'.length);
  if (/[?#]/.test(rest)) throw refuse(url.replace(/[?#].*$/s, ''), 'a file: target takes no query or fragment');
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const host = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    if (host !== '' && host.toLowerCase() !== 'localhost') throw refuse(url, 'a file: URL names no host');
    rest = slash < 0 ? '' : rest.slice(slash);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    throw refuse(url, 'the path is not valid percent-encoding');
  }
  if (decoded === '' || decoded.includes('\0')) throw refuse(url, 'the file path is empty or holds a NUL byte');
  return decoded;
}

const isInside = (dir: string, file: string) => {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative);
};

async function realOrUndefined(file: string): Promise<string | undefined> {
  return realpath(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

async function resolveFileTarget(
  config: Pick<Config, 'BOT_INSTANCES_DIR' | 'TURSO_FILE_DIR'>,
  request: LocationRequest,
  refuse: Refuse,
): Promise<TargetLocation> {
  const given = filePathOf(request.url, refuse);
  const root = path.resolve(config.TURSO_FILE_DIR);
  if (request.mode === 'push') await mkdir(root, { recursive: true });
  const realRoot = await realOrUndefined(root);
  if (realRoot === undefined) throw refuse(`file:${given}`, `TURSO_FILE_DIR ${root} does not exist`);
  const bots = await realOrUndefined(path.resolve(config.BOT_INSTANCES_DIR));
  // Relative paths are read against TURSO_FILE_DIR; an absolute one must name a place inside it.
  const lexical = path.resolve(root, given);
  const candidate = isInside(root, lexical) ? path.join(realRoot, path.relative(root, lexical)) : lexical;
  const shown = `file:${lexical}`;
  const outside = `file targets must be inside TURSO_FILE_DIR (${realRoot}), symlinks resolved`;
  const inBots = `file targets must never be inside BOT_INSTANCES_DIR (${bots ?? ''}): that is where the bots' own databases live`;
  const check = (real: string) => {
    if (!isInside(realRoot, real)) throw refuse(shown, outside);
    if (bots !== undefined && (isInside(bots, real) || real === bots)) throw refuse(shown, inBots);
  };
  check(candidate);
  // The folder must exist already: creating folders could follow a symlink out of TURSO_FILE_DIR.
  const realParent = await realOrUndefined(path.dirname(candidate));
  if (realParent === undefined) throw refuse(shown, `its folder ${path.dirname(candidate)} does not exist`);
  const info = await lstat(candidate).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info === undefined) {
    const file = path.join(realParent, path.basename(candidate));
    check(file);
    if (request.mode === 'restore') throw refuse(shown, 'the file does not exist, so there is nothing to restore');
    return { kind: 'file', file, exists: false, clientUrl: pathToFileURL(file).href };
  }
  const file = await realOrUndefined(candidate);
  if (file === undefined) throw refuse(shown, 'it is a symlink that points nowhere');
  check(file);
  const real = await lstat(file);
  if (!real.isFile()) throw refuse(shown, 'it exists and is not a regular file');
  return { kind: 'file', file, exists: true, clientUrl: pathToFileURL(file).href };
}

/** The key of the target's metadata table that names the bot owning the target. */
const OWNER_KEY = 'instance';

/** A value of the target's metadata table, undefined when the target has no such table or key. */
export async function readTargetMeta(client: Client, key: string): Promise<string | undefined> {
  const table = await client.execute({
    sql: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    args: [TARGET_META_TABLE],
  });
  if (table.rows.length === 0) return undefined;
  const result = await client.execute({
    sql: `SELECT value FROM ${TARGET_META_TABLE} WHERE key = ?`,
    args: [key],
  });
  const value = result.rows[0]?.[0];
  return typeof value === 'string' ? value : undefined;
}

const readOwner = (client: Client) => readTargetMeta(client, OWNER_KEY);

/**
 * Makes sure the target is this bot's before anything is written to (or restored from) it: a
 * target another bot owns is refused; a file target is used only when this pipeline created it
 * (a new file gets the owner row at once, an existing file without one is someone else's data).
 * A remote database without the row (provisioned, or pushed to by an older release) is claimed.
 */
async function claimTarget(
  client: Client,
  instance: string,
  location: TargetLocation,
  mode: 'push' | 'restore',
  refuse: (rule: string) => TargetRefusedError,
): Promise<void> {
  const foreignFile = location.kind === 'file' && location.exists;
  let owner: string | undefined;
  try {
    owner = await readOwner(client);
  } catch (error) {
    // An existing file that SQLite cannot read is certainly not a target this pipeline created.
    if (foreignFile) throw refuse('it exists and is not a database this pipeline created');
    throw error;
  }
  if (owner === instance) return;
  if (owner !== undefined) throw refuse(`it is the target of bot ${owner}, not of ${instance}`);
  if (foreignFile)
    throw refuse(
      `it exists and was not created by this pipeline (no ${TARGET_META_TABLE} owner row); it is never overwritten: name a new file`,
    );
  if (mode === 'restore') return;
  await client.batch(
    [
      createMetaTableSql,
      {
        sql: `INSERT INTO ${TARGET_META_TABLE} (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
        args: [OWNER_KEY, instance],
      },
    ],
    'write',
  );
  // Two bots naming the same new target at once: the first row wins, the other bot is refused.
  const claimed = await readOwner(client);
  if (claimed !== instance) throw refuse(`it is the target of bot ${claimed ?? '(unknown)'}, not of ${instance}`);
}

/** A target URL fit for logs, results and metadata: no query string (authToken=...), no user info. */
function displayTarget(url: string): string {
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
function targetError(
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
