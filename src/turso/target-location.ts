import { lstat, mkdir, realpath } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../config.js';
import { PermanentJobError } from '../errors.js';

/**
 * Where a bot's sync-config.json may send its backup. A bot's config is input that a bot's owner
 * writes, so it must never reach a file that is not a backup target: `file:` targets live only
 * under TURSO_FILE_DIR (real paths, symlinks followed), never inside BOT_INSTANCES_DIR;
 * remote targets are libsql: or https: (plain http: only to this machine).
 */
export type TargetLocation =
  { kind: 'file'; file: string; exists: boolean; clientUrl: string } | { kind: 'remote'; clientUrl: string };

/** A target the rules refuse: permanent, names the bot, its sync-config.json, the target and the rule. */
export class TargetRefusedError extends PermanentJobError {
  constructor(instance: string, configFile: string, target: string, rule: string) {
    super(`bot ${instance}: the Turso target ${target} (from ${configFile}) is refused: ${rule}`);
    this.name = 'TargetRefusedError';
  }
}

export interface LocationRequest {
  instance: string;
  configFile: string;
  url: string;
  /** push may create a new file target; restore needs an existing one. */
  mode: 'push' | 'restore';
}

export async function resolveTargetLocation(
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
