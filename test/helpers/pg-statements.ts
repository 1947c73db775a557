import pg from 'pg';

/**
 * The statements this process sends PostgreSQL while `run` runs (their text, whitespace made one
 * space), seen where every pool's client sends them: what a test asserts a sync sends or spares.
 * Only the text is recorded; every statement still goes to PostgreSQL as it is.
 */
export async function statementsOf<T>(run: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text;
    statements.push(typeof text === 'string' ? text.replace(/\s+/g, ' ').trim() : 'COPY');
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    return { result: await run(), statements };
  } finally {
    pg.Client.prototype.query = query;
  }
}
