import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { maskUrlCredentials } from '../secrets.js';
import { fileVersion, settledBefore, type FileVersion } from './file-version.js';

/**
 * What a bot's FreqTrade config.json says about it, for the `bots` row: read as FreqTrade reads
 * it (freqtrade/configuration/load_config.py: JSON with comments and trailing commas, other files
 * merged in by `add_config_files`), with every secret removed before it goes anywhere. What the
 * files do not say stays undefined (NULL in PostgreSQL), never a default.
 */
export interface BotConfigFacts {
  /** bot_name, when the config names the bot. */
  name?: string;
  strategy?: string;
  /** exchange.pair_whitelist. */
  pairs?: string[];
  dryRun?: boolean;
  /** The merged config, secrets removed; undefined without a readable config.json. */
  config?: Record<string, unknown>;
}

export interface BotConfigReading {
  facts: BotConfigFacts;
  /** Why the config could not be taken, naming the file; the sync goes on without it. */
  warning?: string;
}

/** Where FreqTrade's docker layout and a plain install keep the bot's config, in this order. */
const CONFIG_LOCATIONS = ['config.json', path.join('user_data', 'config.json')];

/** FreqTrade refuses deeper `add_config_files` nesting as a loop. */
const MAX_CONFIG_DEPTH = 5;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A config file that cannot be taken; the message names it. */
class ConfigProblem extends Error {}

/**
 * Reads the config.json in the bot's folder `dir` (none: no facts, no warning). A problem with
 * any of its files leaves every fact unknown, as FreqTrade would refuse to start on it: a config
 * missing one of its files could say something the bot does not run with.
 *
 * A sync reads its bot's config on every run, and parsing it (comments, merges, secrets removed)
 * cost more than the rest of the job's bookkeeping: a reading is kept, and taken again only while
 * every file it looked at (a location found empty included) is the same one, unchanged.
 */
export async function readBotConfig(dir: string): Promise<BotConfigReading> {
  const kept = keptReadings.get(dir);
  if (kept !== undefined && (await stillCurrent(dir, kept))) return kept.reading;
  keptReadings.delete(dir);
  const readAt = Date.now();
  const looked = new Map<string, FileVersion>();
  const reading = await readConfigFiles(dir, looked);
  // A file changed just before it was read could be written again within its clock's tick, its
  // version unchanged: such a reading is not kept.
  if (settledBefore(readAt, looked.values())) {
    if (keptReadings.size >= MAX_KEPT_READINGS) keptReadings.clear();
    keptReadings.set(dir, { realDir: await realpath(dir).catch(() => undefined), looked, reading });
  }
  return reading;
}

/** A reading kept for its bot's folder, and what each file it looked at was when read. */
interface KeptReading {
  realDir: string | undefined;
  /** File as named (a location or an added file) -> what it was before it was read. */
  looked: ReadonlyMap<string, FileVersion>;
  reading: BotConfigReading;
}

const keptReadings = new Map<string, KeptReading>();
/** A bound on the readings kept (a few kilobytes each): more bots than this on a host read their configs again. */
const MAX_KEPT_READINGS = 20_000;

/** Whether the folder and every file a kept reading looked at are still what they were. */
async function stillCurrent(dir: string, kept: KeptReading): Promise<boolean> {
  if ((await realpath(dir).catch(() => undefined)) !== kept.realDir) return false;
  for (const [file, then] of kept.looked) if ((await fileVersion(file)).version !== then.version) return false;
  return true;
}

/** readBotConfig's reading, each file's version recorded in `looked` before it is read. */
async function readConfigFiles(dir: string, looked: Map<string, FileVersion>): Promise<BotConfigReading> {
  for (const location of CONFIG_LOCATIONS) {
    const file = path.join(dir, location);
    try {
      const realDir = await realpath(dir);
      const text = await readInsideBot(file, realDir, looked);
      if (text === undefined) continue;
      return { facts: factsOf(await loadConfigFile(file, text, realDir, 0, looked)) };
    } catch (error) {
      if (!(error instanceof ConfigProblem)) throw error;
      return { facts: {}, warning: `${error.message}; the bot's config is left unknown` };
    }
  }
  return { facts: {} };
}

/**
 * A config file's text; undefined when there is none. Its real path must stay inside the bot's
 * folder (the rule its database follows): no bot's registry row shows another's config.
 */
async function readInsideBot(
  file: string,
  realDir: string,
  looked: Map<string, FileVersion>,
): Promise<string | undefined> {
  looked.set(file, await fileVersion(file));
  const real = await realpath(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw new ConfigProblem(`${file} cannot be read (${error.code ?? 'error'})`);
  });
  if (real === undefined) return undefined;
  const relative = path.relative(realDir, real);
  if (relative.startsWith('..') || path.isAbsolute(relative))
    throw new ConfigProblem(`${file} is refused: it resolves to ${real}, outside the bot's folder ${realDir}`);
  return readFile(real, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ConfigProblem(`${file} cannot be read (${error.code ?? 'error'})`);
  });
}

/**
 * One config file, with its `add_config_files` merged under it (its own keys win, and among the
 * added files a later one wins), as FreqTrade's load_from_files does; added files are relative
 * to the file naming them.
 */
async function loadConfigFile(
  file: string,
  text: string,
  realDir: string,
  depth: number,
  looked: Map<string, FileVersion>,
): Promise<JsonObject> {
  const parsed = parseConfigJson(file, text);
  const added = parsed.add_config_files;
  if (added === undefined) return parsed;
  if (!Array.isArray(added) || !added.every((entry) => typeof entry === 'string'))
    throw new ConfigProblem(`${file}: add_config_files is not a list of file names`);
  if (depth >= MAX_CONFIG_DEPTH)
    throw new ConfigProblem(`${file}: add_config_files nested more than ${MAX_CONFIG_DEPTH} deep (a loop?)`);
  let sub: JsonObject = {};
  for (const name of added) {
    const addedFile = path.resolve(path.dirname(file), name);
    const addedText = await readInsideBot(addedFile, realDir, looked);
    if (addedText === undefined)
      throw new ConfigProblem(`${addedFile}, named by ${file}'s add_config_files, does not exist`);
    sub = deepMerge(await loadConfigFile(addedFile, addedText, realDir, depth + 1, looked), sub);
  }
  return deepMerge(parsed, sub);
}

/** `source`'s values over `destination`'s, objects merged key by key (FreqTrade's deep_merge_dicts). */
function deepMerge(source: JsonObject, destination: JsonObject): JsonObject {
  const merged: JsonObject = { ...destination };
  for (const [key, value] of Object.entries(source)) {
    const under = merged[key];
    merged[key] = isObject(value) && isObject(under) ? deepMerge(value, under) : value;
  }
  return merged;
}

/**
 * The file's object, or a problem naming the file and where it breaks. JSON.parse's own message
 * is not repeated: it can quote the text around the error, and that text may be a secret.
 */
function parseConfigJson(file: string, text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(withoutCommentsAndTrailingCommas(text.replace(/^\uFEFF/, '')));
  } catch (error) {
    throw new ConfigProblem(`${file} is not valid JSON${whereParseFailed(text, error)}`);
  }
  if (!isObject(value)) throw new ConfigProblem(`${file} does not hold a JSON object`);
  return value;
}

function whereParseFailed(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message);
  if (lineColumn) return ` (line ${lineColumn[1]}, column ${lineColumn[2]})`;
  const position = /at position (\d+)/.exec(message);
  if (position) {
    const before = text.slice(0, Number(position[1])).split('\n');
    return ` (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
  }
  if (/end of (JSON )?input/i.test(message)) return ' (it ends too early)';
  return '';
}

/**
 * The text with `//` and `/* *\/` comments and trailing commas blanked out (rapidjson's
 * PM_COMMENTS | PM_TRAILING_COMMAS, FreqTrade's parse mode), strings untouched. Blanked with
 * spaces, so positions in the text still point at the same line and column.
 */
function withoutCommentsAndTrailingCommas(text: string): string {
  const out = text.split('');
  let i = 0;
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (ch === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else {
      i++;
    }
  }
  // Trailing commas: a comma whose next non-blank character closes the object or array.
  const stripped = out.join('');
  const result = stripped.split('');
  i = 0;
  while (i < stripped.length) {
    const ch = stripped[i];
    if (ch === '"') {
      i++;
      while (i < stripped.length && stripped[i] !== '"') i += stripped[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (ch === ',') {
      let next = i + 1;
      while (next < stripped.length && /\s/.test(stripped[next]!)) next++;
      if (stripped[next] === '}' || stripped[next] === ']') result[i] = ' ';
    }
    i++;
  }
  return result.join('');
}

/**
 * Key names whose values are credentials, wherever they sit: FreqTrade's sanitize_config list
 * (exchange key, secret, password, uid, account id, wallet address, private key; Telegram token
 * and chat id; Discord webhook URL; API server password), what it leaves (API server
 * jwt_secret_key and ws_token, the consumer's ws_token, webhook URLs, ccxt_config credentials
 * such as apiKey, login or twofa, db_url with its password), and any name that says secret,
 * password, passphrase, token, api key, private key, auth, credential or cookie.
 */
const SECRET_KEY = new RegExp(
  [
    '^(key|uid|account_?id|wallet_?address|login|twofa|chat_?id|url|webhook_?url|db_?url)$',
    'secret',
    'passw',
    'passphrase',
    'token',
    'api_?key',
    'private_?key',
    'auth',
    'credential',
    'cookie',
  ].join('|'),
  'i',
);

/**
 * The config with every secret key removed, at any depth (lists included), and the user info of
 * any URL left in a value masked.
 */
export function withoutSecrets(value: unknown): unknown {
  if (typeof value === 'string') return maskUrlCredentials(value);
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (!isObject(value)) return value;
  const kept: JsonObject = {};
  for (const [key, inner] of Object.entries(value)) {
    if (SECRET_KEY.test(key)) continue;
    kept[key] = withoutSecrets(inner);
  }
  return kept;
}

function factsOf(merged: JsonObject): BotConfigFacts {
  const facts: BotConfigFacts = { config: withoutSecrets(merged) as JsonObject };
  if (typeof merged.bot_name === 'string' && merged.bot_name !== '') facts.name = merged.bot_name;
  if (typeof merged.strategy === 'string' && merged.strategy !== '') facts.strategy = merged.strategy;
  if (typeof merged.dry_run === 'boolean') facts.dryRun = merged.dry_run;
  const whitelist = isObject(merged.exchange) ? merged.exchange.pair_whitelist : undefined;
  if (Array.isArray(whitelist) && whitelist.every((pair) => typeof pair === 'string')) facts.pairs = whitelist;
  return facts;
}
