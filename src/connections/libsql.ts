import { createClient, type Client, type InStatement, type Transaction } from '@libsql/client';

type StatementListener = (sql: string) => void;
const listeners = new Set<StatementListener>();

/**
 * Calls `listener` with the SQL of every statement sent by the clients created from now on (until
 * the returned function is called). It lets a test prove what reaches a target: Turso Cloud
 * refuses `journal_mode` and `busy_timeout` and keeps `user_version` read-only.
 */
export function onLibsqlStatement(listener: StatementListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The statements each method of a client or transaction sends, read from its first argument. */
const SENT: Record<string, (first: unknown) => readonly InStatement[]> = {
  execute: (statement) => [statement as InStatement],
  batch: (statements) => statements as InStatement[],
  migrate: (statements) => statements as InStatement[],
  executeMultiple: (sql) => [sql as string],
};

/** `target` with every statement it sends reported first; a transaction it opens is observed too. */
function observed<T extends Client | Transaction>(target: T): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (property === 'transaction')
        return async (...args: unknown[]) => observed((await method.apply(object, args)) as Transaction);
      const sent = typeof property === 'string' ? SENT[property] : undefined;
      if (sent === undefined) return method.bind(object);
      return (...args: unknown[]) => {
        for (const statement of sent(args[0])) {
          const sql = typeof statement === 'string' ? statement : statement.sql;
          for (const listener of listeners) listener(sql);
        }
        return method.apply(object, args);
      };
    },
  });
}

/**
 * A libSQL client for a bot's Turso database (libsql://, https://) or a local file: URL.
 * intMode "bigint" keeps 64-bit integers exact both ways.
 */
export function createLibsqlClient(url: string, authToken?: string): Client {
  const client = createClient(
    authToken === undefined ? { url, intMode: 'bigint' } : { url, authToken, intMode: 'bigint' },
  );
  return listeners.size > 0 ? observed(client) : client;
}
