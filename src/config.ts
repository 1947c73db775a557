import { z } from 'zod';
import { parseDuration } from './duration.js';
import { maskUrlCredentials } from './secrets.js';

/** Thrown when the environment is invalid; its message lists every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A duration where `0` is allowed too (it means "every time"). */
const durationOrZero = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      if (/^\s*0+\s*(ms|s|m|h|d)?\s*$/.test(text)) return 0;
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected 0 or a duration such as 30s, 5m or 1h` });
        return z.NEVER;
      }
      return ms;
    });

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 30s, 5m or 1h` });
        return z.NEVER;
      }
      return ms;
    });

/** A duration that may be left unset (the feature it times is then off). */
const optionalDuration = () =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 30m or 1h, or nothing (off)` });
        return z.NEVER;
      }
      return ms;
    });

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const value = /^-?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return value;
    });

const ratio = (fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
        ctx.addIssue({ code: 'custom', message: `expected a number from 0 to 1` });
        return z.NEVER;
      }
      return value;
    });

const url = (protocols: readonly string[]) =>
  z.string().refine(
    (text) => {
      try {
        return protocols.includes(new URL(text).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const optionalText = z
  .string()
  .optional()
  .transform((text) => (text === undefined || text.trim() === '' ? undefined : text));

const flag = (fallback: boolean) =>
  z
    .string()
    .default(fallback ? 'true' : 'false')
    .transform((text, ctx) => {
      const normal = text.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(normal)) return true;
      if (['false', '0', 'no', 'off'].includes(normal)) return false;
      ctx.addIssue({ code: 'custom', message: `expected true or false` });
      return z.NEVER;
    });

const identifier = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((text) => /^[a-z_][a-z0-9_]{0,62}$/.test(text), {
      message: 'expected a lower-case SQL identifier (letters, digits, underscore; at most 63 characters)',
    });

/** One seed of a Redis Cluster; credentials and TLS come from a seed written as a URL. */
export interface ClusterSeed {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
}

function parseClusterSeeds(text: string): ClusterSeed[] | undefined {
  const seeds: ClusterSeed[] = [];
  for (const part of text.split(',').map((item) => item.trim())) {
    if (part === '') continue;
    let parsed: URL;
    try {
      parsed = new URL(/^rediss?:\/\//.test(part) ? part : `redis://${part}`);
    } catch {
      return undefined;
    }
    const port = Number(parsed.port);
    if (!['redis:', 'rediss:'].includes(parsed.protocol) || parsed.hostname === '' || !(port > 0)) return undefined;
    if (parsed.pathname !== '' && parsed.pathname !== '/') return undefined; // a cluster has one database
    seeds.push({
      host: parsed.hostname.replace(/^\[|\]$/g, ''),
      port,
      tls: parsed.protocol === 'rediss:',
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    });
  }
  return seeds.length > 0 ? seeds : undefined;
}

/**
 * The hash tag Redis Cluster hashes a key by: what lies between the first `{` and the next `}`,
 * when not empty. BullMQ's keys are `<prefix>:<queue>:<suffix>`, so a queue stays in one slot
 * only when the prefix itself holds a complete, non-empty tag.
 */
function prefixHashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return undefined;
  return prefix.slice(open + 1, close);
}

/** Every environment variable the program reads, with its default. The README's table mirrors this. */
const schema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/postgres'),
  PG_SCHEMA: identifier('public'),
  PG_POOL_MAX: int(10, 1, 1000),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: optionalText.transform((text, ctx) => {
    if (text === undefined) return undefined;
    const seeds = parseClusterSeeds(text);
    if (seeds === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected comma-separated host:port seeds (or redis://[user:password@]host:port, rediss:// for TLS)',
      });
      return z.NEVER;
    }
    return seeds;
  }),
  /** How long a command (`status`, `enqueue`, ...) waits for Redis before it fails naming it. */
  REDIS_CONNECT_TIMEOUT: duration('5s'),
  QUEUE_PREFIX: z
    .string()
    .default('ctp')
    .refine((text) => /^[A-Za-z0-9_.{}-]{1,64}$/.test(text), {
      message: 'expected 1 to 64 letters, digits, dots, dashes, underscores or a {hash tag}',
    }),
  MONGO_URL: optionalText.pipe(url(['mongodb:', 'mongodb+srv:']).optional()),
  BOT_INSTANCES_DIR: z.string().min(1).default('./data/bot-instances'),
  /** This worker's host: it discovers its own BOT_INSTANCES_DIR and serves that host's bot queues. */
  WORKER_HOST: optionalText.pipe(
    z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,39}$/,
        'expected 1 to 40 lower-case letters, digits or dashes, starting with a letter or digit',
      )
      .optional(),
  ),
  /** Who finds the bots: the scheduler in its own BOT_INSTANCES_DIR, or each host's workers (WORKER_HOST). */
  BOT_DISCOVERY: z.enum(['scheduler', 'hosts']).default('scheduler'),
  BOT_DB_FILENAMES: z
    .string()
    .default('tradesv3.sqlite,tradesv3.dryrun.sqlite')
    .transform((text) =>
      text
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== ''),
    )
    .refine((names) => names.length > 0 && names.every((name) => /^[A-Za-z0-9_.-]+$/.test(name)), {
      message: 'expected a comma-separated list of plain file names',
    }),
  SYNC_INTERVAL: duration('5m'),
  DISCOVERY_INTERVAL: duration('1m'),
  TURSO_PUSH_INTERVAL: duration('15m'),
  /** The change watcher (`watch`, and `start`): file events, stat polling where events do not work, or off. */
  WATCH_MODE: z.enum(['events', 'poll', 'off']).default('events'),
  /** Quiet time after a bot's last write before its sync is enqueued (a burst waits at most 2 s, or this when longer). */
  WATCH_DEBOUNCE: duration('500ms').refine((ms) => ms >= 1 && ms <= 60_000, 'expected a duration from 1ms to 60s'),
  /** WATCH_MODE=poll: how often each watched file and folder is stat()ed. */
  WATCH_POLL_INTERVAL: duration('2s').refine((ms) => ms >= 10 && ms <= 600_000, 'expected a duration from 10ms to 10m'),
  /** The only folder where `file:` Turso targets may live (a bot's config never reaches other files). */
  TURSO_FILE_DIR: z.string().min(1).default('./data/turso'),
  /** Upper bound of the values sent in one libSQL batch (one atomic request). */
  TURSO_BATCH_BYTES: int(1_000_000, 10_000, 50_000_000),
  /** turso-provision only: the Turso Platform API, its organisation, group and token. */
  TURSO_API_URL: url(['https:', 'http:']).default('https://api.turso.tech'),
  TURSO_ORG: optionalText,
  TURSO_GROUP: z.string().min(1).default('default'),
  TURSO_PLATFORM_TOKEN: optionalText,
  SYNC_BATCH_SIZE: int(5000, 1, 100_000),
  SQLITE_BUSY_TIMEOUT: duration('5s'),
  /**
   * Bot databases a worker process keeps open between a bot's syncs and pushes, its statements prepared
   * (0: each run opens and closes its file): ~0.2 MB and 3 file descriptors each. Sized for a
   * live fleet: each worker syncs every bot in turn, and a bot whose handle is not kept pays its
   * open and prepares again (64, the first default, kept none of an 80-bot fleet's).
   */
  SQLITE_HANDLE_CACHE: int(1000, 0, 100_000),
  /** A kept bot database not synced or pushed for this long is closed. */
  SQLITE_HANDLE_IDLE: duration('60s'),
  /** How long a bot-sync waits for another run of the same bot before it fails this attempt (and retries). */
  SYNC_LOCK_TIMEOUT: duration('60s'),
  /** A run that would delete more than this share of a bot's rows (a replaced database?) is refused until accepted. */
  DELETE_GUARD_RATIO: ratio(0.2),
  /** bot-sync and turso-push compare every row at least this often (0: every run); between, they read change windows. */
  FULL_COMPARE_INTERVAL: durationOrZero('1h'),
  /** How far before the last run a change window starts: commit delays and small clock differences. */
  SYNC_WINDOW_MARGIN: duration('5m'),
  /**
   * bot-sync and turso-push scan a bot's rows' dates on every run of a bot with at most this many trades and orders;
   * a bigger one's runs find their windows through indexes. 0: every bot's (the scan was a third
   * of a live fleet's worker CPU, and only FreqTrade's undated writes to old closed rows need it).
   */
  SYNC_DATE_SCAN_ROWS: int(0, 0, 1_000_000_000),
  /** How often the runs of a bot above SYNC_DATE_SCAN_ROWS scan the dates too (the writes to old closed rows no index finds); 0: every run. */
  SYNC_DATE_SCAN_INTERVAL: durationOrZero('5m'),
  IMPORT_BATCH_SIZE: int(1000, 1, 100_000),
  /** A queued mongo-import reads export files only inside this folder (`run` may read any). */
  IMPORT_FILES_DIR: z.string().min(1).default('./data/exports'),
  /** A queued turso-restore writes only inside this folder (`run` may write anywhere). */
  RESTORE_DIR: z.string().min(1).default('./data/restores'),
  IMPORT_MAX_REJECT_RATIO: ratio(0.01),
  /** A document above this many bytes is a reject (MongoDB's own limit is 16 MiB). */
  IMPORT_MAX_DOCUMENT_BYTES: int(16 * 1024 * 1024, 2, 256 * 1024 * 1024),
  MONGO_USERS_COLLECTION: z.string().min(1).default('users'),
  MONGO_SNAPSHOTS_COLLECTION: z.string().min(1).default('portfoliosnapshots'),
  USER_RECONCILE_INTERVAL: optionalDuration(),
  WORKER_QUEUES: optionalText,
  WORKER_CONCURRENCY: int(2, 1, 256),
  JOB_ATTEMPTS: int(8, 1, 100),
  JOB_BACKOFF: duration('2s'),
  JOB_LOCK_DURATION: duration('30s'),
  JOB_STALLED_INTERVAL: duration('30s'),
  JOB_MAX_STALLED_COUNT: int(5, 0, 1000),
  KEEP_COMPLETED_AGE: duration('24h'),
  KEEP_COMPLETED_COUNT: int(1000, 0),
  KEEP_FAILED_AGE: duration('14d'),
  KEEP_JOB_LOGS: int(200, 1, 100_000),
  SHUTDOWN_TIMEOUT: duration('30s'),
  BOARD_PORT: int(3000, 0, 65_535),
  // Unset: a `worker` or `watch` process serves no /metrics (`start` and `board` serve it on BOARD_PORT).
  WORKER_METRICS_PORT: optionalText.pipe(
    z
      .string()
      .regex(/^\d{1,5}$/, 'expected a port number from 0 to 65535')
      .transform(Number)
      .refine((port) => port <= 65_535, 'expected a port number from 0 to 65535')
      .optional(),
  ),
  BOARD_USER: optionalText,
  BOARD_PASSWORD: optionalText,
  /** A second, read-only login to the board (both or neither): Bull Board without its actions. */
  BOARD_VIEWER_USER: optionalText,
  BOARD_VIEWER_PASSWORD: optionalText,
  BOARD_AUTH: flag(true),
  MIGRATE_ON_START: flag(false),
  /** Where traces go (OTLP over HTTP); unset, tracing is off and none of it is loaded. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalText.pipe(url(['http:', 'https:']).optional()),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
});

// BullMQ's scripts touch several keys of a queue at once: on a cluster they must share a slot.
const clusterChecked = schema.superRefine((config, ctx) => {
  // A host's worker serves its host's queues, which only the hosts' discovery fills.
  if (config.WORKER_HOST !== undefined && config.BOT_DISCOVERY !== 'hosts') {
    ctx.addIssue({
      code: 'custom',
      path: ['BOT_DISCOVERY'],
      message: `WORKER_HOST is set, so bots are found per host: set BOT_DISCOVERY=hosts (on every process: workers, scheduler, board, CLI)`,
    });
  }
  if (config.REDIS_CLUSTER_NODES === undefined || prefixHashTag(config.QUEUE_PREFIX) !== undefined) return;
  const bare = config.QUEUE_PREFIX.replace(/[{}]/g, '') || 'ctp';
  ctx.addIssue({
    code: 'custom',
    path: ['QUEUE_PREFIX'],
    message: `on a Redis Cluster (REDIS_CLUSTER_NODES is set) the prefix must hold a hash tag so each queue's keys share one slot: write it as "{${bare}}"`,
  });
});

export type Config = Readonly<z.output<typeof clusterChecked>>;

/**
 * Reads and validates the environment once. Unknown values fail here, at start,
 * with one line per bad variable, instead of falling back silently.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = clusterChecked.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const variable = issue.path.map(String).join('.') || '(environment)';
      const given = env[variable];
      const value = given === undefined ? '' : ` (given: ${JSON.stringify(redact(variable, given))})`;
      return `  ${variable}: ${issue.message}${value}`;
    });
    throw new ConfigError(`Invalid configuration; fix these environment variables:\n${lines.join('\n')}`);
  }
  return Object.freeze(result.data);
}

function redact(variable: string, value: string): string {
  if (/PASSWORD|TOKEN|SECRET/.test(variable)) return '***';
  // URLs (and lists of them) may carry passwords: keep their shape, drop the user info, parsable or not.
  return maskUrlCredentials(value);
}
