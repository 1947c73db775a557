import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';
import { maskUrlCredentials } from './secrets.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(bindings: Fields): Logger;
}

/** Field paths whose values never reach a log line, however a call site names them. */
const SECRET_KEYS = ['password', 'token', 'tursoToken', 'authToken', 'apiKey', 'secret', 'authorization', 'cookie'];
const REDACTED_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'config.DATABASE_URL',
  'config.REDIS_URL',
  'config.MONGO_URL',
  'config.BOARD_PASSWORD',
  'config.BOARD_VIEWER_PASSWORD',
  'config.TURSO_PLATFORM_TOKEN',
];

export interface LoggerOptions {
  /** Readable lines instead of JSON; default: when stderr is a terminal (a person runs a command). */
  pretty?: boolean;
  /** Where lines go; default stderr, written synchronously so the last line before an exit is not lost. */
  destination?: DestinationStream;
}

/**
 * pino on stderr (stdout stays free for command results such as `run`'s JSON): JSON lines for
 * log collectors, pino-pretty at a terminal. Secrets are removed by field path, and user info of
 * any URL in a message, an error or a text field is masked.
 */
export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  const usePretty = options.pretty ?? process.stderr.isTTY === true;
  const destination = options.destination ?? (usePretty ? undefined : pino.destination({ dest: 2, sync: true }));
  const stream = usePretty
    ? pretty({
        destination: destination ?? 2,
        sync: true,
        colorize: options.destination === undefined && process.stderr.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      })
    : destination;
  const root = pino(
    {
      level,
      base: undefined,
      timestamp: stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: maskTextFields,
      },
      serializers: { err: serializeError },
      redact: { paths: REDACTED_PATHS, censor: '***' },
      hooks: {
        logMethod(args, method) {
          const at = typeof args[0] === 'string' ? 0 : 1; // (message) or (fields, message)
          const message: unknown = args[at];
          if (typeof message === 'string') args[at] = maskUrlCredentials(message);
          return method.apply(this, args);
        },
      },
    },
    stream,
  );
  return wrap(root);
}

/** Keeps the (message, fields) call shape used across the code; pino takes (fields, message). */
function wrap(logger: PinoLogger): Logger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: Fields): void => {
      if (fields === undefined) logger[level](message);
      else logger[level](fields, message);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (bindings) => wrap(logger.child(bindings)),
  };
}

function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return typeof value === 'string' ? maskUrlCredentials(value) : value;
  const serialized = stdSerializers.err(value);
  return {
    ...serialized,
    message: maskUrlCredentials(serialized.message),
    stack: maskUrlCredentials(serialized.stack),
  };
}

/** Text fields (`error: message`, `url`, ...) can carry a connection string: mask its user info. */
function maskTextFields(fields: Record<string, unknown>): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    masked[key] =
      typeof value === 'string' ? maskUrlCredentials(value) : typeof value === 'bigint' ? String(value) : value;
  }
  return masked;
}
