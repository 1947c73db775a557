import { createClient, type Client, type InStatement, type Transaction, type TransactionMode } from '@libsql/client';

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

function report(statement: InStatement): void {
  const sql = typeof statement === 'string' ? statement : statement.sql;
  for (const listener of listeners) listener(sql);
}

function observedTransaction(tx: Transaction): Transaction {
  return new Proxy(tx, {
    get(target, property, receiver) {
      if (property === 'execute')
        return (statement: InStatement) => {
          report(statement);
          return target.execute(statement);
        };
      if (property === 'batch')
        return (statements: InStatement[]) => {
          statements.forEach(report);
          return target.batch(statements);
        };
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function observed(client: Client): Client {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'execute')
        return (statement: InStatement) => {
          report(statement);
          return target.execute(statement);
        };
      if (property === 'batch')
        return (statements: InStatement[], mode?: Parameters<Client['batch']>[1]) => {
          statements.forEach(report);
          return target.batch(statements, mode);
        };
      if (property === 'executeMultiple')
        return (sql: string) => {
          report(sql);
          return target.executeMultiple(sql);
        };
      if (property === 'migrate')
        return (statements: InStatement[]) => {
          statements.forEach(report);
          return target.migrate(statements);
        };
      if (property === 'transaction')
        return async (mode?: TransactionMode) => observedTransaction(await target.transaction(mode));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
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
